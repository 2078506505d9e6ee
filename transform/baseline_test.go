package transform

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBaselines: the two benchmark baselines load the same events into the
// same rollup, skip what is not an event, and store no raw person value.
func TestBaselines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	lines := []string{
		`{"specversion":"1.0","id":"1","source":"s","type":"work.time.logged","time":"2026-09-07T09:06:12+09:00","data":{"team":"a","person":"ann@x.example","start":"2026-09-07T07:00:00+09:00","end":"2026-09-07T09:00:00+09:00","category":"focus"}}`,
		`{"specversion":"1.0","id":"2","source":"s","type":"work.task.created","time":"2026-09-07T01:00:00Z","data":{"team":"a","task":"T-1"}}`,
		`not json at all`,
		`{"specversion":"1.0","id":"3","source":"s","type":"work.task.completed","time":"2026-09-08T01:00:00Z","data":{"team":"b","task":"T-2","person":"bob@x.example"}}`,
	}
	path := filepath.Join(dir, "events.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadNDJSON(ctx, filepath.Join(dir, "loader.duckdb"), path, "salt", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rows != 3 || got.Cells != 2 {
		t.Errorf("loader: %d rows, %d cells; want 3 and 2", got.Rows, got.Cells)
	}

	n, err := OpenNaive(ctx, filepath.Join(dir, "naive.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 9, 7, 0, 6, 12, 0, time.UTC)
	for _, e := range []NaiveEvent{
		{Source: "s", ID: "1", Type: "work.time.logged", Time: at, Team: "a", Person: "p_1", HasPerson: true, Category: "focus",
			Start: at.Add(-2 * time.Hour), End: at, HasTimeEntry: true},
		{Source: "s", ID: "2", Type: "work.task.created", Time: at, Team: "a", Task: "T-1"},
		{Source: "s", ID: "3", Type: "work.task.completed", Time: at.Add(24 * time.Hour), Team: "b", Task: "T-2", Person: "p_2", HasPerson: true},
	} {
		if err := n.Insert(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	cells, err := n.Rollup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cells != 2 {
		t.Errorf("naive: %d cells, want 2", cells)
	}
	var focus float64
	if err := n.db.QueryRowContext(ctx, `SELECT focus_s FROM baseline_team_day WHERE team = 'a'`).Scan(&focus); err != nil || focus != 7200 {
		t.Errorf("naive focus seconds of team a: %v, %v; want 7200", focus, err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"loader.duckdb", "naive.duckdb"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "@x.example") {
			t.Errorf("%s holds a raw person value", f)
		}
	}
}
