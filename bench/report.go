package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/shoal-analytics/shoal/synth"
)

// summary is one run's results, rendered as a table and as Markdown.
type summary struct {
	opts             synth.Options
	events, bytes    int64
	publish          result
	results          map[string]result
	phases           []string
	command          string
	naiveCap, absorb int
	tuning           Tuning
	load             string
	commit           string            // the checkout's HEAD when the run began
	failed           map[string]string // phase → why it has no result
}

type row struct{ name, events, time, rate, cpu, rss string }

func (b summary) rows() []row {
	var rows []row
	add := func(name string, r result, ok bool) {
		if !ok {
			return
		}
		rss := "-"
		if r.RSSKiB > 0 {
			rss = fmt.Sprintf("%d MiB", r.RSSKiB/1024)
		}
		rows = append(rows, row{name, fmt.Sprint(r.Events), fmtSeconds(r.Seconds), fmt.Sprintf("%.0f", r.rate()), fmtSeconds(r.CPU), rss})
	}
	// goMem notes, on the row just added, how much of it the Go runtime
	// held at the end of ingest (the rest is DuckDB's).
	goMem := func(ok bool, r result) {
		if mib := r.Extra["go_sys_mib"]; ok && mib > 0 {
			rows[len(rows)-1].rss += fmt.Sprintf(" (Go runtime %.0f MiB)", mib)
		}
	}
	r, ok := b.results["ceiling"]
	add("1. ceiling: kafka-go group read + commits", r, ok)
	shoal, hasShoal := b.results["shoal"]
	add("2. Shoal end to end (broker → rollups committed)", shoal, hasShoal)
	if kib := shoal.Extra["ingest_peak_rss_kib"]; hasShoal && kib > 0 {
		rows[len(rows)-1].rss += fmt.Sprintf(" (%d MiB when caught up, before 2b and 6a-6c)", int64(kib)/1024)
	}
	goMem(hasShoal, shoal)
	// peakSoFar is the shoal phase's peak RSS after one of its output steps.
	peakSoFar := func(step string) string {
		if kib := shoal.Extra[step+"_peak_rss_kib"]; kib > 0 {
			return fmt.Sprintf("%d MiB so far", int64(kib)/1024)
		}
		return "-"
	}
	if s, ok := shoal.Extra["checkpoint_seconds"]; hasShoal && ok {
		rss := peakSoFar("checkpoint")
		if kib := shoal.Extra["idle_rss_kib"]; kib > 0 {
			rss += fmt.Sprintf(" (%d MiB resident after it: Go returned %.0f MiB)", int64(kib)/1024, shoal.Extra["idle_released_mib"])
		}
		rows = append(rows, row{fmt.Sprintf("2b. idle checkpoint after catching up (%.0f MB write-ahead log)", shoal.Extra["checkpoint_wal_bytes"]/1e6), "-", fmtSeconds(s), "-", "-", rss})
	}
	r, ok = b.results["naive"]
	add("3. naive: encoding/json + one INSERT per event", r, ok)
	r, ok = b.results["readjson"]
	add("4a. DuckDB read_json of the NDJSON + rollup", r, ok)
	r, ok = b.results["stage"]
	add("4b. Shoal's stage without Kafka, same bytes", r, ok)
	goMem(ok, r)
	if r, ok := b.results["absorb"]; ok {
		rows = append(rows,
			row{fmt.Sprintf("5a. incremental: absorb %d new events", int(r.Extra["absorbed"])), fmt.Sprint(int(r.Extra["absorbed"])), fmtSeconds(r.Extra["incremental_seconds"]), fmt.Sprintf("%.0f", r.Extra["absorbed"]/r.Extra["incremental_seconds"]), "-", "-"},
			row{fmt.Sprintf("5b. full: recompute all rollups from %d events", r.Events), fmt.Sprint(r.Events), fmtSeconds(r.Extra["full_seconds"]), fmt.Sprintf("%.0f", float64(r.Events)/r.Extra["full_seconds"]), fmtSeconds(r.CPU) + " (5a+5b)", fmt.Sprintf("%d MiB", r.RSSKiB/1024)})
	}
	if r, ok := b.results["stream"]; ok {
		for i, rate := range streamRates {
			key := fmt.Sprintf("stream_%d_", rate)
			n, secs, cpu := r.Extra[key+"events"], r.Extra[key+"seconds"], r.Extra[key+"cpu_seconds"]
			if n == 0 {
				continue
			}
			rows = append(rows, row{fmt.Sprintf("7%c. steady stream: %d events/s for %.0f s into %d stored (%.2f ms CPU per event, %.0f %% of a core)",
				'a'+i, rate, r.Extra["stream_seconds"], int(r.Extra["stored"]), cpu/n*1000, cpu/secs*100),
				fmt.Sprint(int(n)), fmtSeconds(secs), fmt.Sprintf("%.0f", n/secs), fmtSeconds(cpu), fmt.Sprintf("%d MiB", r.RSSKiB/1024)})
		}
	}
	if hasShoal {
		rows = append(rows,
			row{fmt.Sprintf("6a. release %d weeks (outcomes, days, decisions, ledger)", int(shoal.Extra["released_weeks"])), "-", fmtSeconds(shoal.Extra["release_seconds"]), "-", "-", peakSoFar("release")},
			row{"6a'. /metrics snapshot read from the last release", "-", fmtSeconds(shoal.Extra["refresh_seconds"]), "-", "-", peakSoFar("refresh")},
			row{fmt.Sprintf("6b. /metrics scrape, %d teams (median of %d)", b.opts.Teams, int(shoal.Extra["scrapes"])), "-", fmtSeconds(shoal.Extra["scrape_seconds"]), "-", "-", peakSoFar("scrape")},
			row{fmt.Sprintf("6c. weekly HTML report, %d teams (%.0f kB, median of %d)", b.opts.Teams, shoal.Extra["report_bytes"]/1e3, int(shoal.Extra["reports"])), "-", fmtSeconds(shoal.Extra["report_seconds"]), "-", "-", peakSoFar("report")})
	}
	if r, ok := b.results["sql"]; ok {
		rows = append(rows,
			row{"6d. start with SQL on: publish the serving tables (26 released weeks, days)", fmt.Sprint(r.Events), fmtSeconds(r.Extra["start_publish_seconds"]), "-", fmtSeconds(r.CPU) + " (6d+6e)", fmt.Sprintf("%d MiB", r.RSSKiB/1024)},
			row{fmt.Sprintf("6e. analyst query over weekly_outcomes, %d rows (median of %d)", int(r.Extra["rows"]), int(r.Extra["runs"])), "-", fmtSeconds(r.Extra["query_seconds"]), "-", "-", "-"})
	}
	return rows
}

type ratio struct {
	name, target string
	value        float64
	ok           bool
	// small is set when the run is smaller than the size the target is
	// stated for: a "met" then says nothing about that size.
	small bool
}

func (r ratio) verdict(missed string) string {
	switch {
	case !r.ok:
		return missed
	case r.small:
		return "met at this size only (the target is for a larger one)"
	default:
		return "met"
	}
}

func (b summary) ratios() []ratio {
	rate := func(p string) (float64, bool) {
		r, ok := b.results[p]
		return r.rate(), ok && r.rate() > 0
	}
	var out []ratio
	add := func(name, target string, a, c string, min float64) {
		x, ok1 := rate(a)
		y, ok2 := rate(c)
		if ok1 && ok2 {
			out = append(out, ratio{name: name, target: target, value: x / y, ok: x/y >= min})
		}
	}
	add("Shoal / ceiling", "≥ 0.8", "shoal", "ceiling", 0.8)
	add("Shoal / naive", "≥ 50", "shoal", "naive", 50)
	add("stage / read_json", "≥ 1.0", "stage", "readjson", 1.0)
	add("Shoal end to end / read_json + rollup", "≥ 0.35 at 20 M events", "shoal", "readjson", 0.35)
	if r, ok := b.results["stream"]; ok {
		if n, cpu := r.Extra["stream_20_events"], r.Extra["stream_20_cpu_seconds"]; n > 0 {
			v := cpu / n * 1000
			out = append(out, ratio{fmt.Sprintf("CPU per event streaming 20/s into %d stored (ms)", int(r.Extra["stored"])), "≤ 2 at ≥ 6.5 M stored", v, v <= 2, r.Extra["stored"] < 6_500_000})
		}
	}
	if r, ok := b.results["absorb"]; ok && r.Extra["incremental_seconds"] > 0 {
		v := r.Extra["full_seconds"] / r.Extra["incremental_seconds"]
		out = append(out, ratio{fmt.Sprintf("full / incremental (%d events stored)", r.Events), "≥ 100 at 20 M events", v, v >= 100, r.Events < 20_000_000})
	}
	if r, ok := b.results["shoal"]; ok {
		mib := float64(r.RSSKiB) / 1024
		out = append(out, ratio{fmt.Sprintf("Shoal end-to-end peak RSS, %d events (MiB)", r.Events), "≤ 1024 at 20 M events", mib, mib <= 1024, r.Events < 20_000_000})
		if s := r.Extra["scrape_seconds"]; s > 0 {
			out = append(out, ratio{fmt.Sprintf("/metrics scrape, %d teams (ms)", b.opts.Teams), "≤ 50 at 2,000 teams", s * 1000, s <= 0.05, b.opts.Teams < 2000})
		}
		if s := r.Extra["report_seconds"]; s > 0 {
			out = append(out, ratio{fmt.Sprintf("weekly report, %d teams (s)", b.opts.Teams), "≤ 5 at 2,000 teams", s, s <= 5, b.opts.Teams < 2000})
		}
	}
	return out
}

func fmtSeconds(s float64) string {
	switch {
	case s <= 0:
		return "-"
	case s < 1:
		return fmt.Sprintf("%.1f ms", s*1000)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

func (b summary) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nmeasurement\tevents\ttime\tevents/s\tCPU\tpeak RSS\n")
	for _, r := range b.rows() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.events, r.time, r.rate, r.cpu, r.rss)
	}
	fmt.Fprintf(tw, "\nratio\tvalue\ttarget\t\t\n")
	for _, r := range b.ratios() {
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%s\t\n", r.name, r.value, r.target, r.verdict("MISSED"))
	}
	tw.Flush()
	for _, ph := range sortedKeys(b.failed) {
		fmt.Fprintf(w, "phase %s FAILED: %s\n", ph, b.failed[ph])
	}
}

func (b summary) markdown() string {
	var s strings.Builder
	s.WriteString("## Results\n\nGenerated by `shoal bench`; every number below comes from one run on one machine, with the\nbaselines measured in the same run on the same data.\n\n")
	fmt.Fprintf(&s, "- command: `%s`\n", strings.TrimSpace(b.command))
	fmt.Fprintf(&s, "- commit: %s (when the run began)\n", b.commit)
	fmt.Fprintf(&s, "- machine: %s; load average before the run: %s\n", machine(), b.load)
	fmt.Fprintf(&s, "- data: %d teams in %d units, %d people, %d weeks: %d events, %.0f MB (%.0f bytes per event), %.1f%% bad, published in %s\n\n",
		b.opts.Teams, b.opts.Units, b.opts.People, b.opts.Weeks, b.events, float64(b.bytes)/1e6, float64(b.bytes)/float64(max(b.events, 1)), 100*b.opts.BadRate/(1+b.opts.BadRate), fmtSeconds(b.publish.Seconds))
	s.WriteString("| measurement | events | time | events/s | CPU | peak RSS |\n|---|---:|---:|---:|---:|---:|\n")
	for _, r := range b.rows() {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s |\n", r.name, r.events, r.time, r.rate, r.cpu, r.rss)
	}
	s.WriteString("\n| ratio | value | target | |\n|---|---:|---|---|\n")
	for _, r := range b.ratios() {
		fmt.Fprintf(&s, "| %s | %.2f | %s | %s |\n", r.name, r.value, r.target, r.verdict("**missed**"))
	}
	if len(b.failed) > 0 {
		s.WriteString("\nFailed phases (no numbers above):\n\n")
		for _, ph := range sortedKeys(b.failed) {
			fmt.Fprintf(&s, "- %s: %s\n", ph, b.failed[ph])
		}
	}
	fmt.Fprintf(&s, "\nNotes on method: every phase runs in its own child process (peak RSS from wait4; CPU is the child's user+system seconds over all its threads, steadier than wall time when the machine is shared). The Shoal phases use %s. The naive pipeline inserts the first %d events and its rate is extrapolated; it commits its group offsets once a second. The read_json baseline and the naive pipeline roll up per UTC day and keep no task or request state; Shoal also pseudonymizes with HMAC-SHA256, refuses bad events to the dead-letter topic, keeps task and request state and rolls up per team-local day. The absorb phase adds %d events (copies of the newest ones with new ids) to the shoal phase's store and derives them (row 5a), then Rebuild recomputes every derived table from the raw events. On rows 2b and 6a-6c, \"so far\" is the shoal child's peak RSS after that step (VmHWM), to show which output raises the peak; the pipeline's own refresh loop runs beside them. Row 2 ends when every event is committed and its rollups derived. The stream phase (rows 7a-7b) starts the pipeline on the shoal phase's store and publishes copies of the newest events with new ids, a tick every 50 ms, at each rate for --stream-seconds; its CPU is the child's over the whole window, the kafka-go producer in the same process and the pipeline's background loops included (an upper bound).\n", b.tuning, b.naiveCap, b.absorb)
	return s.String()
}

// The generated part of the Markdown file lies between these markers; what
// surrounds them (the analysis a person wrote) is kept when it is rewritten.
const (
	markBegin = "<!-- shoal bench: generated from here -->\n"
	markEnd   = "<!-- shoal bench: generated up to here -->\n"
)

// writeMarkdown writes the results to path, replacing only the part
// between the markers if the file already has them.
func writeMarkdown(path, generated string) error {
	body := markBegin + generated + markEnd
	if old, err := os.ReadFile(path); err == nil {
		s := string(old)
		if i, j := strings.Index(s, markBegin), strings.Index(s, markEnd); i >= 0 && j > i {
			body = s[:i] + body + s[j+len(markEnd):]
		}
	}
	return os.WriteFile(path, []byte(body), 0o644)
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not run from a git checkout)"
	}
	dirty := ""
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		dirty = " (with uncommitted changes)"
	}
	return strings.TrimSpace(string(out)) + dirty
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s %s/%s", model, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
