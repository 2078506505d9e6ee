package privacy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/shoal-analytics/shoal/outcome"
)

// Published is an outcome cell after the suppression policy. A cell that is
// not Visible must never leave Shoal with its Value: every output (the
// exporter, SQL, the report) publishes cells through Apply and shows only
// Visible, Defined values.
type Published struct {
	outcome.Cell
	Visible bool
	// Reason is ReasonVisible for visible cells, otherwise why the
	// cell is withheld (below_k, dominance, complementary, ...).
	Reason Reason
}

// Apply groups cells into one org → unit → team tree per (week, metric),
// decides each tree with policy and returns every cell with its decision,
// sorted by week, metric, level (org, unit, team), unit and team. Cells of
// metrics outside the catalog are dropped. A cell whose family's
// magnitudes fail the p % rule (Policy.Dominated) enters the tree hidden
// (ReasonDominance), so complementary suppression protects it. A
// percentile the tree shows is
// still withheld over fewer values than its metric's MinSamples
// (ReasonFewSamples). This is the one place outcome cells meet the policy.
//
// The cells are sorted once, so that each tree is a run of the sorted
// slice and the result is in order as it is built: the weekly report at
// 2,000 teams applies about 245 k cells, and grouping them into a map of
// growing slices allocated three times their size.
func Apply(policy Policy, cells []outcome.Cell) ([]Published, error) {
	sorted := make([]outcome.Cell, 0, len(cells))
	for _, c := range cells {
		if _, ok := outcome.ByID(c.Metric); ok {
			sorted = append(sorted, c)
		}
	}
	slices.SortFunc(sorted, compareCells)
	out := make([]Published, 0, len(sorted))
	for len(sorted) > 0 {
		n := 1
		for n < len(sorted) && sorted[n].Week == sorted[0].Week && sorted[n].Metric == sorted[0].Metric {
			n++
		}
		tree := sorted[:n]
		sorted = sorted[n:]
		decisions, err := policy.Decide(PolicyCells(policy, tree))
		if err != nil {
			return nil, fmt.Errorf("suppression policy for %s in week starting day %d: %w", tree[0].Metric, tree[0].Week, err)
		}
		for _, c := range tree {
			d, ok := decisions[outcome.CellID(c)]
			if !ok {
				return nil, fmt.Errorf("suppression policy for %s: no decision for %s", c.Metric, outcome.CellID(c))
			}
			out = append(out, fewSamples(Published{Cell: c, Visible: d.Visible, Reason: d.Reason}))
		}
	}
	return out, nil
}

var levelOrder = map[outcome.Level]int{outcome.LevelOrg: 0, outcome.LevelUnit: 1, outcome.LevelTeam: 2}

// compareCells orders cells by week, metric, level (org, unit, team),
// unit and team.
func compareCells(a, b outcome.Cell) int {
	if c := cmp.Compare(a.Week, b.Week); c != 0 {
		return c
	}
	if c := strings.Compare(a.Metric, b.Metric); c != 0 {
		return c
	}
	if a.Level != b.Level {
		return cmp.Compare(levelOrder[a.Level], levelOrder[b.Level])
	}
	if c := strings.Compare(a.Unit, b.Unit); c != 0 {
		return c
	}
	return strings.Compare(a.Team, b.Team)
}

// PolicyCells turns one (window, metric) set of outcome cells into the
// org → unit → team tree the suppression policy decides on, each cell
// Dominated when policy's p % rule fails on its magnitudes. This is the one
// place outcome cells meet the policy: the exporter, SQL and report all use it.
func PolicyCells(policy Policy, cells []outcome.Cell) []Cell {
	out := make([]Cell, 0, len(cells))
	hasOrg := false
	units := map[string]bool{}
	for _, c := range cells {
		pc := Cell{ID: outcome.CellID(c), Level: c.Level, People: weight(c), Dominated: policy.DominatedCell(c)}
		switch c.Level {
		case outcome.LevelTeam:
			pc.Parent = "unit:" + c.Unit
		case outcome.LevelUnit:
			pc.Parent = "org"
			units[c.Unit] = true
		default:
			hasOrg = true
		}
		out = append(out, pc)
	}
	// A tree needs its parents even where a level has no cell of its own
	// (no data in the window): such parents have no people.
	for _, c := range cells {
		if c.Level == outcome.LevelTeam && !units[c.Unit] {
			units[c.Unit] = true
			out = append(out, Cell{ID: "unit:" + c.Unit, Parent: "org", Level: outcome.LevelUnit})
		}
	}
	if !hasOrg && len(out) > 0 {
		out = append(out, Cell{ID: "org", Level: outcome.LevelOrg})
	}
	return out
}

// fewSamples withholds a visible, defined percentile over fewer values than
// its metric's MinSamples (ReasonFewSamples).
func fewSamples(p Published) Published {
	if !p.Visible || !p.Defined {
		return p
	}
	if m, ok := outcome.ByID(p.Metric); ok && m.MinSamples > 0 && p.Samples < m.MinSamples {
		p.Visible, p.Reason = false, ReasonFewSamples
	}
	return p
}

// weight is the people count the rules decide a cell on: its contributors
// at the floors, or 1 for a cell that holds only contributions below them
// (hidden below_k like any small cell, and no known zero: it protects a
// sibling in rules 2 and 3, and is an unknown of the daily equations).
func weight(c outcome.Cell) int {
	if c.People == 0 && c.HasData() {
		return 1
	}
	return c.People
}
