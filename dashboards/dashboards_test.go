package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/shoal-analytics/shoal/outcome"
)

// committedDir holds the generated dashboards as committed (what Grafana
// provisioning reads).
const committedDir = "../deploy/grafana/dashboards"

// TestCommittedDashboardsAreFresh regenerates the dashboards into a temp
// dir and compares them with the committed ones, file by file.
func TestCommittedDashboardsAreFresh(t *testing.T) {
	dir := t.TempDir()
	names, err := Write(dir, outcome.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	committed, _ := filepath.Glob(filepath.Join(committedDir, "*.json"))
	var have []string
	for _, c := range committed {
		have = append(have, filepath.Base(c))
	}
	want := slices.Clone(names)
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(want, have) {
		t.Fatalf("%s has %v, the generator writes %v: run `make generate` and commit the result", committedDir, have, want)
	}
	for _, n := range names {
		got, _ := os.ReadFile(filepath.Join(committedDir, n))
		fresh, _ := os.ReadFile(filepath.Join(dir, n))
		if !bytes.Equal(got, fresh) {
			t.Errorf("%s/%s is stale: run `make generate` and commit the result", committedDir, n)
		}
	}
}

func committed(t *testing.T) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(committedDir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no dashboards in %s: run `make generate`", committedDir)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// TestRoundTripThroughSDK: every committed dashboard decodes strictly into
// the SDK's dashboard type and encodes back to the same bytes.
func TestRoundTripThroughSDK(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for name, raw := range committed(t) {
		var d dashboard.Dashboard
		if err := strictErr(d.UnmarshalJSONStrict(raw)); err != nil {
			t.Errorf("%s: strict decode into dashboard.Dashboard: %v", name, err)
			continue
		}
		var loose dashboard.Dashboard
		if err := json.Unmarshal(raw, &loose); err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		again, err := Marshal(loose)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, raw) {
			t.Errorf("%s does not round-trip through dashboard.Dashboard:\n%s", name, firstDiff(raw, again))
		}
	}
}

// strictErr drops the empty cog.BuildErrors that the SDK's strict decoders
// return (as a non-nil error) when nothing is wrong.
func strictErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  file:       %s\n  round-trip: %s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(la), len(lb))
}

type gridPanel struct {
	ID      *int   `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Panels []gridPanel `json:"panels"`
}

// TestLayout: unique panel ids, every panel on the 24-column grid, no two
// panels overlapping.
func TestLayout(t *testing.T) {
	for name, raw := range committed(t) {
		var d struct{ Panels []gridPanel }
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		var all []gridPanel
		var walk func([]gridPanel)
		walk = func(ps []gridPanel) {
			for _, p := range ps {
				all = append(all, p)
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		ids := map[int]string{}
		for i, p := range all {
			switch {
			case p.ID == nil:
				t.Errorf("%s: panel %q has no id", name, p.Title)
			case ids[*p.ID] != "":
				t.Errorf("%s: panels %q and %q share id %d", name, ids[*p.ID], p.Title, *p.ID)
			default:
				ids[*p.ID] = p.Title
			}
			g := p.GridPos
			if g == nil || g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q has an invalid gridPos %+v", name, p.Title, g)
				continue
			}
			for _, q := range all[:i] {
				h := q.GridPos
				if h != nil && g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("%s: panels %q %+v and %q %+v overlap", name, q.Title, *h, p.Title, *g)
				}
			}
		}
	}
}

// TestOnlyProvisionedDatasource: every datasource reference anywhere in a
// dashboard is the provisioned Prometheus uid, and every target and query
// variable has one.
func TestOnlyProvisionedDatasource(t *testing.T) {
	for name, raw := range committed(t) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		refs := 0
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch x := v.(type) {
			case map[string]any:
				if _, isTarget := x["expr"]; isTarget {
					if _, ok := x["datasource"]; !ok {
						t.Errorf("%s: target at %s has no datasource", name, path)
					}
				}
				if x["type"] == "query" {
					if _, ok := x["datasource"]; !ok {
						t.Errorf("%s: variable at %s has no datasource", name, path)
					}
				}
				for k, c := range x {
					if k == "datasource" {
						refs++
						ds, ok := c.(map[string]any)
						if !ok || ds["uid"] != DatasourceUID || ds["type"] != "prometheus" {
							t.Errorf("%s: %s.datasource is %v, want {type: prometheus, uid: %s}", name, path, c, DatasourceUID)
						}
					}
					walk(path+"."+k, c)
				}
			case []any:
				for i, c := range x {
					walk(fmt.Sprintf("%s[%d]", path, i), c)
				}
			}
		}
		walk("$", v)
		if refs == 0 {
			t.Errorf("%s references no datasource", name)
		}
	}
}

// generated returns the dashboards of catalog by file name, as JSON.
func generated(t *testing.T, catalog []outcome.Metric) map[string]string {
	t.Helper()
	files, err := Generate(catalog)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := Marshal(f.Dashboard)
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = string(b)
	}
	return out
}

var familyFile = map[outcome.Family]string{outcome.Flow: "shoal-flow.json", outcome.Time: "shoal-focus.json", outcome.Async: "shoal-async.json"}

// TestCatalogDrivesPanels: every catalog metric is queried on the overview,
// the team detail and its family's dashboard and on no other family's; a
// catalog entry added to a family gets its panels there.
func TestCatalogDrivesPanels(t *testing.T) {
	extra := outcome.Metric{ID: "test_extra", Name: "shoal_test_extra_ratio", Title: "Test extra", Help: "A metric only this test defines.",
		Definition: "Nothing.", Unit: outcome.Ratio, Direction: outcome.HigherIsBetter, Family: outcome.Async}
	for _, tc := range []struct {
		name    string
		catalog []outcome.Metric
	}{
		{"catalog", outcome.Catalog},
		{"catalog plus one", append(slices.Clone(outcome.Catalog), extra)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := generated(t, tc.catalog)
			for _, m := range tc.catalog {
				sel := m.Name + "{"
				for file, js := range ds {
					want := file == "shoal-overview.json" || file == "shoal-team.json" || file == familyFile[m.Family]
					if got := strings.Contains(js, sel); got != want {
						t.Errorf("%s queried in %s: %v, want %v", m.Name, file, got, want)
					}
				}
				for _, file := range []string{"shoal-overview.json", "shoal-team.json", familyFile[m.Family]} {
					if !strings.Contains(ds[file], jsonText(m.Help)) {
						t.Errorf("%s: no panel describes %s with its help text", file, m.Name)
					}
				}
			}
		})
	}
}

func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// TestPanelsCarryCatalogUnitsAndThresholds checks each metric panel's unit
// and threshold colours against the catalog entry it shows.
func TestPanelsCarryCatalogUnitsAndThresholds(t *testing.T) {
	files, err := Generate(outcome.Catalog)
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]outcome.Metric{}
	for _, m := range outcome.Catalog {
		byTitle[m.Title] = m
	}
	checked := 0
	for _, f := range files {
		if f.Name != "shoal-overview.json" && f.Name != "shoal-team.json" {
			continue
		}
		for _, p := range f.Dashboard.Panels {
			if p.Panel == nil {
				continue
			}
			m, ok := byTitle[*p.Panel.Title]
			if !ok {
				continue
			}
			checked++
			d := p.Panel.FieldConfig.Defaults
			if d.Unit == nil || *d.Unit != m.Unit.GrafanaUnit() {
				t.Errorf("%s %q: unit %v, want %s", f.Name, m.Title, d.Unit, m.Unit.GrafanaUnit())
			}
			if d.Thresholds == nil || len(d.Thresholds.Steps) == 0 {
				t.Errorf("%s %q: no thresholds", f.Name, m.Title)
				continue
			}
			first, last := d.Thresholds.Steps[0].Color, d.Thresholds.Steps[len(d.Thresholds.Steps)-1].Color
			if m.Unit == outcome.Ratio {
				good, bad := "green", "red"
				if m.Direction == outcome.LowerIsBetter {
					good, bad = bad, good
				}
				if first != bad || last != good {
					t.Errorf("%s %q (%s): thresholds go %s → %s, want %s → %s", f.Name, m.Title, m.Direction, first, last, bad, good)
				}
			}
			if !strings.HasPrefix(*p.Panel.Description, m.Help) {
				t.Errorf("%s %q: description %q does not start with the catalog help", f.Name, m.Title, *p.Panel.Description)
			}
		}
	}
	if checked != 2*len(outcome.Catalog) {
		t.Errorf("checked %d metric panels, want %d (one per metric on the overview and on the team detail)", checked, 2*len(outcome.Catalog))
	}
}

// TestTeamDetailDrawsAgreements: the team dashboard has unit and team
// variables and draws the team's response SLA from the agreement gauge.
func TestTeamDetailDrawsAgreements(t *testing.T) {
	ds := generated(t, outcome.Catalog)
	js := ds["shoal-team.json"]
	qs, err := Queries([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]bool{}
	sla := false
	for _, q := range qs {
		if q.Variable {
			vars[q.Panel] = true
		}
		if q.Panel == "Median response time" && strings.HasPrefix(q.Expr, outcome.TeamResponseSLAName+`{team="$team",unit="$unit"}`) {
			sla = true
		}
	}
	if !vars["variable unit"] || !vars["variable team"] {
		t.Errorf("team detail variables: %v, want unit and team", vars)
	}
	if !sla {
		t.Error("the median response time panel does not draw the team's response SLA")
	}
	if !strings.Contains(ds["shoal-overview.json"], "What Shoal never collects") {
		t.Error("the overview has no \"what Shoal never collects\" text")
	}
}

func TestUnknownFamilyIsRefused(t *testing.T) {
	_, err := Generate(append(slices.Clone(outcome.Catalog), outcome.Metric{ID: "x", Name: "shoal_x", Family: "mood"}))
	if err == nil || !strings.Contains(err.Error(), "shoal_x") || !strings.Contains(err.Error(), "sections") {
		t.Errorf("a metric of an unknown family: %v", err)
	}
}
