package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/dashboards"
	"github.com/shoal-analytics/shoal/internal/wait"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/synth"
)

// committedDashboards is where the generated dashboards are committed
// (what Grafana provisioning loads).
const committedDashboards = "../deploy/grafana/dashboards"

// dashboardClock is one second before the end of apptest.SmallOrg's events: at
// apptest.OrgNow itself the current ISO week has just begun and holds no event, so
// every "this week" panel would rightly be empty. One second earlier, both
// exported windows (the last two generated weeks) hold data.
var dashboardClock = apptest.OrgNow.Add(-time.Second)

// TestDashboardQueriesReturnData runs Shoal on the synthetic organisation,
// lets the real Prometheus scrape it, then runs EVERY PromQL expression of
// the committed dashboards (panel targets and template variables, with the
// variables set to a real visible team and its unit) through Prometheus's
// query API: each must parse and return data.
func TestDashboardQueriesReturnData(t *testing.T) {
	needPrometheus(t)
	// Larger teams than apptest.SmallOrg's: a team's 85th percentiles need
	// 20 completed tasks in the week before they are released.
	org, msgs := synth.Generate(synth.Options{Seed: 42, Teams: 6, Units: 2, People: 84, Weeks: 3,
		End: apptest.OrgNow, BadRate: 0.03, DuplicateRate: 0.01, LateRate: 0.05})
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	p, _ := testPipelineAt(t, addr, t.TempDir(), org, &apptest.SyncBuffer{}, dashboardClock)
	waitCaughtUp(t, p)
	release(t, p)
	prom := startPrometheus(t, p)
	waitScrapes(t, prom, 3)

	files, _ := filepath.Glob(filepath.Join(committedDashboards, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s: run `make generate`", committedDashboards)
	}
	all := map[string][]dashboards.Query{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		qs, err := dashboards.Queries(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		all[filepath.Base(f)] = qs
	}

	// The team the variables are set to: a visible team for which every
	// Team detail query has data (the first in name order).
	team, unit := pickTeam(t, prom, all["shoal-team.json"])
	t.Logf("variables: team=%s unit=%s", team, unit)
	vars := map[string]string{"team": team, "unit": unit}

	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	total := 0
	for _, name := range names {
		for _, q := range all[name] {
			total++
			expr, err := substitute(q.Expr, vars)
			// The week before the last release needs a week of history,
			// which this Prometheus has not scraped: its selector must
			// have data now.
			expr = strings.ReplaceAll(expr, " offset 7d", "")
			if err == nil {
				var res []promSample
				res, err = checkQuery(prom, expr)
				if err == nil && q.Variable {
					err = wantLabel(res, strings.TrimPrefix(q.Panel, "variable "), vars)
				}
			}
			if err != nil {
				t.Errorf("%s, panel %q, target %s: %v\n  query: %s", name, q.Panel, q.RefID, err, expr)
			}
		}
	}
	t.Logf("%d queries of %d dashboards ran against the real Prometheus", total, len(all))
	if total < 100 {
		t.Errorf("only %d queries found in the dashboards; the extraction is broken", total)
	}

	// The check must fail for a panel that queries what Shoal does not
	// export, and for PromQL that does not parse.
	t.Run("a panel on a metric that does not exist fails", func(t *testing.T) {
		fake := `{"panels":[{"type":"stat","title":"Fabricated","targets":[{"refId":"A","expr":"shoal_no_such_metric{team=\"$team\",window=\"current_week\"}"}]}]}`
		qs, err := dashboards.Queries([]byte(fake))
		if err != nil || len(qs) != 1 {
			t.Fatalf("extracting the fabricated panel: %v %v", qs, err)
		}
		expr, err := substitute(qs[0].Expr, vars)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := checkQuery(prom, expr); err == nil || !strings.Contains(err.Error(), "no data") {
			t.Errorf("a query of a non-existent metric passed the check: %v", err)
		}
		if _, err := checkQuery(prom, `sum(shoal_tasks_completed`); err == nil || !strings.Contains(err.Error(), "does not parse") {
			t.Errorf("a query that does not parse passed the check: %v", err)
		}
		if _, err := substitute(`shoal_tasks_completed{team="$squad"}`, vars); err == nil {
			t.Error("an unknown template variable was left in a query")
		}
	})
}

// waitScrapes waits until Prometheus has scraped Shoal n times (rate()
// needs two samples) and holds the outcome snapshot. The deadline only
// bounds a hang; nothing is timed.
func waitScrapes(t *testing.T, prom *promServer, n int) {
	t.Helper()
	var up, org []promSample
	if !wait.Until(90*time.Second, func() bool {
		up, _ = prom.query(`count_over_time(up{job="shoal"}[10m])`)
		org, _ = prom.query(`shoal_tasks_completed{team="",unit=""}`)
		if len(up) == 0 || len(org) == 0 {
			return false
		}
		scrapes, _ := strconv.ParseFloat(fmt.Sprint(up[0].Value[1]), 64)
		return scrapes >= float64(n)
	}) {
		t.Fatalf("Prometheus did not scrape Shoal %d times (up: %v, org series: %d); its log:\n%s", n, up, len(org), prom.log())
	}
}

// builtinVars are Grafana's own variables, as Grafana would fill them in
// for a 1 s scrape interval.
var builtinVars = map[string]string{"__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__interval_ms": "15000"}

var varRe = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// substitute fills in the template and built-in variables; a variable it
// does not know is an error (Grafana would send it literally).
func substitute(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := vars[name]; ok {
			return v
		}
		if v, ok := builtinVars[name]; ok {
			return v
		}
		unknown = append(unknown, m)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown template variable %v", unknown)
	}
	return out, nil
}

// checkQuery runs expr and fails when it does not parse or returns nothing.
func checkQuery(prom *promServer, expr string) ([]promSample, error) {
	res, err := prom.query(expr)
	if err != nil {
		return nil, fmt.Errorf("does not parse or evaluate: %w", err)
	}
	if len(res) == 0 {
		return nil, errors.New("returns no data")
	}
	return res, nil
}

// wantLabel checks that a variable's values include the value the test
// set it to.
func wantLabel(res []promSample, variable string, vars map[string]string) error {
	var got []string
	for _, s := range res {
		if s.Metric[variable] == vars[variable] {
			return nil
		}
		got = append(got, s.Metric[variable])
	}
	return fmt.Errorf("variable %s offers %v, not %q", variable, got, vars[variable])
}

// pickTeam returns the first visible team (and its unit) for which every
// query of the Team detail dashboard returns data.
func pickTeam(t *testing.T, prom *promServer, teamQueries []dashboards.Query) (string, string) {
	t.Helper()
	cands, err := prom.query(`group by (team, unit) ({__name__=~"` + outcomeNameRe() + `",team!=""})`)
	if err != nil || len(cands) == 0 {
		t.Fatalf("no visible team in Prometheus: %v", err)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Metric["team"] < cands[j].Metric["team"] })
	var report []string
	for _, c := range cands {
		vars := map[string]string{"team": c.Metric["team"], "unit": c.Metric["unit"]}
		var empty []string
		for _, q := range teamQueries {
			expr, err := substitute(q.Expr, vars)
			if err != nil {
				t.Fatalf("team detail, panel %q: %v", q.Panel, err)
			}
			if _, err := checkQuery(prom, expr); err != nil {
				empty = append(empty, q.Panel+"/"+q.RefID)
			}
		}
		if len(empty) == 0 {
			return vars["team"], vars["unit"]
		}
		report = append(report, fmt.Sprintf("%s: %v", vars["team"], empty))
	}
	t.Fatalf("no visible team has data in every Team detail query:\n%s", strings.Join(report, "\n"))
	return "", ""
}

func outcomeNameRe() string {
	names := make([]string, len(outcome.Catalog))
	for i, m := range outcome.Catalog {
		names[i] = m.Name
	}
	return strings.Join(names, "|")
}
