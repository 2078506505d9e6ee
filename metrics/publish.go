package metrics

import (
	"fmt"
	"sort"

	"github.com/shoal-analytics/shoal/privacy"
)

// Published is an outcome cell after the suppression policy. A cell that is
// not Visible must never leave Shoal with its Value: every output (the
// exporter, SQL, the report) publishes cells through Apply and shows only
// Visible, Defined values.
type Published struct {
	Cell
	Visible bool
	// Reason is privacy.ReasonVisible for visible cells, otherwise why the
	// cell is withheld (below_k or complementary).
	Reason privacy.Reason
}

// Apply groups cells into one org → unit → team tree per (week, metric),
// decides each tree with policy and returns every cell with its decision,
// sorted by week, metric, level (org, unit, team), unit and team. Cells of
// metrics outside the catalog are dropped. This is the one place outcome
// cells meet the policy.
func Apply(policy privacy.Policy, cells []Cell) ([]Published, error) {
	type treeKey struct {
		week   int32
		metric string
	}
	trees := map[treeKey][]Cell{}
	for _, c := range cells {
		if _, ok := ByID(c.Metric); !ok {
			continue
		}
		k := treeKey{c.Week, c.Metric}
		trees[k] = append(trees[k], c)
	}
	out := make([]Published, 0, len(cells))
	for k, tree := range trees {
		decisions, err := policy.Decide(PolicyCells(tree))
		if err != nil {
			return nil, fmt.Errorf("suppression policy for %s in week starting day %d: %w", k.metric, k.week, err)
		}
		for _, c := range tree {
			d, ok := decisions[CellID(c)]
			if !ok {
				return nil, fmt.Errorf("suppression policy for %s: no decision for %s", k.metric, CellID(c))
			}
			out = append(out, Published{Cell: c, Visible: d.Visible, Reason: d.Reason})
		}
	}
	sort.Slice(out, func(i, j int) bool { return lessCell(out[i].Cell, out[j].Cell) })
	return out, nil
}

var levelOrder = map[privacy.Level]int{privacy.LevelOrg: 0, privacy.LevelUnit: 1, privacy.LevelTeam: 2}

func lessCell(a, b Cell) bool {
	if a.Week != b.Week {
		return a.Week < b.Week
	}
	if a.Metric != b.Metric {
		return a.Metric < b.Metric
	}
	if a.Level != b.Level {
		return levelOrder[a.Level] < levelOrder[b.Level]
	}
	if a.Unit != b.Unit {
		return a.Unit < b.Unit
	}
	return a.Team < b.Team
}
