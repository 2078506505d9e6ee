package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

func renderAll(t *testing.T, d Data) map[Format][]byte {
	t.Helper()
	out := map[Format][]byte{}
	for _, f := range Formats {
		var buf bytes.Buffer
		if err := Render(&buf, d, f); err != nil {
			t.Fatalf("render %s: %v", f, err)
		}
		out[f] = buf.Bytes()
	}
	return out
}

// TestWithheldValuesReachNoOutput: the report of a week in which a team
// drops below k names it as rolled up, and its values reach no output: the
// reports are byte for byte the same whatever its withheld cells hold
// (non-interference, which no formatting of the values can escape), and
// its rows say only that they are suppressed.
func TestWithheldValuesReachNoOutput(t *testing.T) {
	d := demoData(t, nil)
	base := renderAll(t, d)

	// The policy really withholds data-ml (3 people this week) and hides a
	// sibling, else this test proves nothing.
	withheld := map[string]privacy.Reason{}
	for _, p := range d.Cells {
		if p.Week == demoWeek.Monday() && p.Level == outcome.LevelTeam && !p.Visible {
			withheld[p.Team] = p.Reason
		}
	}
	if withheld["data-ml"] != privacy.ReasonBelowK || withheld["data-analytics"] != privacy.ReasonComplementary {
		t.Fatalf("fixture: withheld teams in the report week = %v, want data-ml below_k and data-analytics complementary", withheld)
	}
	for _, canary := range []float64{0, 987654.321, -42.5, 0.123456} {
		mutated := demoData(t, func(c *outcome.Cell) {
			if _, ok := withheld[c.Team]; ok {
				c.Value = canary
			}
		})
		for f, b := range renderAll(t, mutated) {
			if !bytes.Equal(b, base[f]) {
				t.Errorf("%s report changes when withheld cells hold %v: a withheld value reaches it\n%s", f, canary, firstDiff(string(b), string(base[f])))
			}
		}
	}

	html, md, csvOut := string(base[HTML]), string(base[Markdown]), string(base[CSV])
	for _, s := range []string{"Machine learning (Data): all figures"} {
		if !strings.Contains(html, s) || !strings.Contains(md, s) {
			t.Errorf("HTML or Markdown does not list the rolled-up team as %q", s)
		}
	}
	// Every mention of a withheld team is a privacy note, never a row with
	// numbers; every CSV row of it is flagged and has no value.
	privacyItem := regexp.MustCompile(`(?m)<li>[^<]*figures</li>|^- [^\n]*figures$`)
	for _, name := range []string{"Machine learning", "Analytics"} {
		for _, out := range []struct{ name, text string }{{"html", html}, {"md", md}} {
			if rest := privacyItem.ReplaceAllString(out.text, ""); strings.Contains(rest, name) {
				i := strings.Index(rest, name)
				t.Errorf("%s mentions withheld team %s outside the privacy list: …%s…", out.name, name, rest[max(0, i-80):min(len(rest), i+80)])
			}
		}
	}
	rows := 0
	for _, line := range strings.Split(csvOut, "\r\n") {
		f := strings.Split(line, ",")
		if len(f) < 10 || (f[3] != "data-ml" && f[3] != "data-analytics") {
			continue
		}
		rows++
		if f[5] != "" || f[6] != "" || f[7] != "" || f[8] != "true" {
			t.Errorf("CSV row of a withheld team carries values or is not flagged: %s", line)
		}
	}
	if rows != 2*len(outcome.Catalog) {
		t.Errorf("CSV has %d rows of the withheld teams, want %d (one per metric, flagged)", rows, 2*len(outcome.Catalog))
	}
	assertNoPersonIDs(t, base)
}

var pseudonymLike = regexp.MustCompile(`p_[0-9a-fA-F]{16,}`)

// assertNoPersonIDs fails if an output holds anything shaped like a
// pseudonym or an e-mail address.
func assertNoPersonIDs(t *testing.T, outs map[Format][]byte) {
	t.Helper()
	for f, b := range outs {
		for _, m := range pseudonymLike.FindAllString(string(b), -1) {
			if privacy.IsPseudonym(m[:min(len(m), len(privacy.PseudonymPrefix)+24)]) {
				t.Errorf("%s report holds a pseudonym: %s", f, m)
			}
		}
		if regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[a-z]{2,}`).Match(b) {
			t.Errorf("%s report holds an e-mail address", f)
		}
	}
}

// TestNoDataWeek: a week without any cell says so and shows no zeros.
func TestNoDataWeek(t *testing.T) {
	d := demoData(t, nil)
	var keep []privacy.Published
	for _, p := range d.Cells {
		if p.Week != demoWeek.Monday() {
			keep = append(keep, p)
		}
	}
	d.Cells, d.Quality = keep, Quality{}
	outs := renderAll(t, d)
	for _, f := range []Format{HTML, Markdown} {
		s := string(outs[f])
		if !strings.Contains(s, "No outcome can be shown for 2026-W47") {
			t.Errorf("%s report of an empty week does not say so", f)
		}
		for _, bad := range []string{">0%<", "| 0 |", "0 tasks", "Executive summary", "<svg"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s report of an empty week shows %q", f, bad)
			}
		}
	}
	if lines := strings.Count(string(outs[CSV]), "\r\n"); lines != 1 {
		t.Errorf("CSV of an empty week has %d lines, want the header only", lines)
	}
}

// TestUndefinedIsNotZero: a value with nothing to measure shows n/a.
func TestUndefinedIsNotZero(t *testing.T) {
	md := string(renderAll(t, demoData(t, nil))[Markdown])
	var identity string
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| Identity |") {
			identity = l
			break
		}
	}
	if !strings.Contains(identity, "*n/a*") {
		t.Errorf("Identity's undefined reopen rate is not shown as n/a: %s", identity)
	}
}

// TestPartialWeek: a report made before its week ends says the figures
// will change.
func TestPartialWeek(t *testing.T) {
	d := demoData(t, nil)
	if s := string(renderAll(t, d)[HTML]); strings.Contains(s, "not over yet") {
		t.Error("the report of a finished week says it is not over")
	}
	d.Generated = d.Week.End(time.UTC).Add(-30 * time.Hour)
	for f, b := range renderAll(t, d) {
		if f != CSV && !strings.Contains(string(b), "This week is not over yet") {
			t.Errorf("%s report made before the week ended does not say so", f)
		}
	}
}
