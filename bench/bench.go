package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/ingest"
)

// The topics of the embedded broker the parent starts.
const (
	topic    = "shoal.events"
	dlqTopic = "shoal.dlq"
)

// result is one child's measurement, printed by the child as JSON.
type result struct {
	Phase   string             `json:"phase"`
	Events  int64              `json:"events"`
	Seconds float64            `json:"seconds"`
	Extra   map[string]float64 `json:"extra,omitempty"`
	Note    string             `json:"note,omitempty"`
	RSSKiB  int64              `json:"-"` // peak RSS of the child, from wait4
	// CPU is the child's user+system CPU seconds (all threads, DuckDB's
	// included): steadier than wall time on a shared machine.
	CPU float64 `json:"-"`
}

func (r result) rate() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Events) / r.Seconds
}

// Run runs the benchmark cfg describes: it generates and publishes the
// events, runs each phase as a child process of the running executable,
// prints the table to stdout and writes the Markdown (cfg.Out); progress
// goes to stderr. With cfg.Phase set it is that child instead: it runs the
// one phase and prints its result as JSON to stdout. A phase that fails does
// not stop the others; Run then reports them all and returns an error.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	if cfg.Phase != "" {
		return runPhase(ctx, cfg, stdout, stderr)
	}
	return runParent(ctx, cfg, stdout, stderr)
}

func runParent(ctx context.Context, f Config, stdout, stderr io.Writer) error {
	if err := f.Validate(); err != nil {
		return err
	}
	opts, _ := f.synthOptions() // valid: Validate checked them
	selected, _ := f.selected()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the shoal executable to run the phases: %w", err)
	}
	work := f.WorkDir
	if work == "" {
		if work, err = os.MkdirTemp("", "shoal-bench-"); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		if !f.Keep {
			defer os.RemoveAll(work)
		}
	}
	if f.WorkDir != "" || f.Keep {
		// Several GB for the large preset: say where they are.
		defer func() {
			fmt.Fprintf(stderr, "bench: the work directory %s is kept (%s); remove it when done\n", work, dirSize(work))
		}()
	}
	if f.WorkDir != "" {
		if err := os.MkdirAll(work, 0o750); err != nil {
			return fmt.Errorf("create --work-dir: %w", err)
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	commit := gitCommit() // now: the checkout may move on during a long run
	load := "unknown"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	emb, err := broker.StartEmbedded("127.0.0.1:0", work, ingest.DefaultConfig().Partitions, []string{topic, dlqTopic}, logger)
	if err != nil {
		return err
	}
	defer emb.Close()

	fmt.Fprintf(stderr, "bench: generating %d teams × %d weeks and publishing to the embedded broker on %s\n", opts.Teams, opts.Weeks, emb.Addr())
	began := time.Now()
	n, bytesOut, err := publish(ctx, opts, emb.Addr(), filepath.Join(work, "events.ndjson"), stderr)
	if err != nil {
		return err
	}
	pub := result{Phase: "publish", Events: n, Seconds: time.Since(began).Seconds()}
	fmt.Fprintf(stderr, "bench: %d events (%.0f MB, %.0f bytes each) published in %.1fs\n", n, float64(bytesOut)/1e6, float64(bytesOut)/float64(max(n, 1)), pub.Seconds)

	results := map[string]result{}
	failed := map[string]string{}
	for _, ph := range selected {
		if (ph == "stream" || ph == "sql" || ph == "absorb") && failed["shoal"] != "" {
			failed[ph] = "not run: it needs the shoal phase's store"
			continue
		}
		fmt.Fprintf(stderr, "bench: phase %s ...\n", ph)
		childArgs := []string{"bench", "--phase", ph, "--brokers", emb.Addr(), "--work-dir", work,
			"--naive-events", fmt.Sprint(f.NaiveEvents), "--absorb", fmt.Sprint(f.Absorb), "--stream-seconds", fmt.Sprint(f.StreamSeconds), "--log-level", f.LogLevel}
		childArgs = append(childArgs, f.Tuning.args()...)
		if f.ProfileDir != "" {
			if err := os.MkdirAll(f.ProfileDir, 0o750); err != nil {
				return fmt.Errorf("create --cpuprofile-dir: %w", err)
			}
			childArgs = append(childArgs, "--cpuprofile-dir", f.ProfileDir)
		}
		r, err := runChild(ctx, self, childArgs, stderr)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("phase %s: %w", ph, ctx.Err())
			}
			// The other phases still run and are reported: a failure
			// late in a long run must not lose what was measured.
			failed[ph] = err.Error()
			fmt.Fprintf(stderr, "bench: phase %s failed: %v\n", ph, err)
			continue
		}
		results[ph] = r
		fmt.Fprintf(stderr, "bench: phase %s: %d events in %.2fs (%.0f events/s), peak RSS %d MiB\n", ph, r.Events, r.Seconds, r.rate(), r.RSSKiB/1024)
	}
	rep := summary{opts: opts, events: n, bytes: bytesOut, publish: pub, results: results, phases: selected,
		command: f.Command, naiveCap: f.NaiveEvents, absorb: f.Absorb, tuning: f.Tuning, load: load, commit: commit, failed: failed}
	rep.writeTable(stdout)
	if f.Out != "" && f.Out != "-" {
		if err := writeMarkdown(f.Out, rep.markdown()); err != nil {
			return fmt.Errorf("write --out: %w", err)
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", f.Out)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d phases failed or did not run: %s (see above)", len(failed), len(selected), strings.Join(sortedKeys(failed), ", "))
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// runChild runs one phase in a child process and reads its result and
// peak RSS. A failed child's error carries the last line it wrote to
// stderr (its own error message).
func runChild(ctx context.Context, self string, args []string, stderr io.Writer) (result, error) {
	cmd := exec.CommandContext(ctx, self, args...)
	var out bytes.Buffer
	last := &lastLine{}
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(stderr, last)
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%w: %s", err, cmp.Or(last.String(), strings.TrimSpace(out.String())))
	}
	var r result
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &r); err != nil {
		return result{}, fmt.Errorf("read the phase's result %q: %w", out.String(), err)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.RSSKiB = ru.Maxrss // KiB on Linux
	}
	r.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return r, nil
}

// lastLine keeps the last non-empty line written to it.
type lastLine struct{ line, cur []byte }

func (l *lastLine) Write(p []byte) (int, error) {
	for _, c := range p {
		if c != '\n' {
			if len(l.cur) < 4096 {
				l.cur = append(l.cur, c)
			}
			continue
		}
		if len(bytes.TrimSpace(l.cur)) > 0 {
			l.line = append(l.line[:0], l.cur...)
		}
		l.cur = l.cur[:0]
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	if len(bytes.TrimSpace(l.cur)) > 0 {
		return string(bytes.TrimSpace(l.cur))
	}
	return string(bytes.TrimSpace(l.line))
}

// dirSize is the size of the files under dir, for a message.
func dirSize(dir string) string {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
