package metrics

import (
	"fmt"
	"sort"

	"github.com/shoal-analytics/shoal/privacy"
)

// Reasons a daily cell is hidden besides the policy's own (below_k,
// complementary).
const (
	// ReasonTemporal: the day is hidden so that its week's value minus the
	// other visible days of the week is not a hidden day's value (the
	// policy's complementary rule applied to week = Σ days).
	ReasonTemporal privacy.Reason = "temporal"
	// ReasonWeeklyOnly: the metric is an end-of-window snapshot (work in
	// progress, requests open past SLA): a team's value on the week's last
	// day IS its weekly value, which would let a day tree be differenced
	// with weekly values. Such metrics are published per week only.
	ReasonWeeklyOnly privacy.Reason = "weekly_only"
)

// weeklyOnly are the snapshot metrics that are not published per day.
var weeklyOnly = map[string]bool{"work_in_progress": true, "requests_open_past_sla": true}

// WeeklyOnly reports whether metric is published per ISO week only.
func WeeklyOnly(metric string) bool { return weeklyOnly[metric] }

// ApplyDaily publishes daily cells (Cell.Week holding the day) next to the
// weekly cells of the same weeks, already published by Apply. Publishing
// both windows of one metric gives a reader two sets of equations: each
// day's tree (parent = Σ children) and, per team, unit and the org, week =
// Σ its days. privacy.Policy.Decide makes every tree equation safe on its
// own; ApplyDaily also decides each position's week → days tree with the
// same policy (the week is the parent, fixed as Apply decided it: a
// visible week with one hidden day hides another day; a hidden week with
// all days visible hides one), re-deciding the day trees with the newly
// hidden cells until nothing changes. A day cell hidden for the week tree
// has ReasonTemporal. When a hidden day is its position's only active day
// in a visible week, its value is the week's (public), so it protects
// nothing in its day tree: that day's whole tree of the metric is hidden.
// Snapshot metrics are hidden on every day (ReasonWeeklyOnly).
//
// The weekly cells are the reference: ApplyDaily never hides a weekly cell,
// so SQL's weekly table and the Prometheus exporter show the same cells.
func ApplyDaily(policy privacy.Policy, weeks []Published, days []Cell) ([]Published, error) {
	type wm struct {
		week   int32
		metric string
	}
	weekly := map[wm]map[string]Published{}
	for _, p := range weeks {
		k := wm{p.Week, p.Metric}
		if weekly[k] == nil {
			weekly[k] = map[string]Published{}
		}
		weekly[k][CellID(p.Cell)] = p
	}
	groups := map[wm][]Cell{}
	for _, c := range days {
		if _, ok := ByID(c.Metric); !ok {
			continue
		}
		k := wm{weekStart(c.Week), c.Metric}
		groups[k] = append(groups[k], c)
	}
	out := make([]Published, 0, len(days))
	for k, cells := range groups {
		if weeklyOnly[k.metric] {
			for _, c := range cells {
				out = append(out, Published{Cell: c, Reason: ReasonWeeklyOnly})
			}
			continue
		}
		pub, err := decideWeekOfDays(policy, weekly[k], cells)
		if err != nil {
			return nil, fmt.Errorf("suppression policy for %s in the days of the week starting day %d: %w", k.metric, k.week, err)
		}
		out = append(out, pub...)
	}
	sort.Slice(out, func(i, j int) bool { return lessCell(out[i].Cell, out[j].Cell) })
	return out, nil
}

// weekStart is the Monday of day's ISO week (day 0 was a Thursday).
func weekStart(day int32) int32 {
	m := (int64(day) + 3) % 7
	if m < 0 {
		m += 7
	}
	return int32(int64(day) - m)
}

// decideWeekOfDays decides the day cells of one metric in one week.
func decideWeekOfDays(policy privacy.Policy, week map[string]Published, cells []Cell) ([]Published, error) {
	byDay := map[int32][]Cell{}
	for _, c := range cells {
		byDay[c.Week] = append(byDay[c.Week], c)
	}
	dayList := make([]int32, 0, len(byDay))
	for d := range byDay {
		dayList = append(dayList, d)
	}
	sort.Slice(dayList, func(i, j int) bool { return dayList[i] < dayList[j] })

	type dc struct {
		day int32
		id  string
	}
	forced := map[dc]privacy.Reason{}
	decided := map[dc]privacy.Decision{}
	for round := 0; ; round++ {
		if round > 10000 {
			return nil, fmt.Errorf("%w: daily suppression did not settle", privacy.ErrMalformedTree)
		}
		// 1. Each day's tree, with the forced cells hidden. A forced cell
		// keeps People 1 if it carries anyone's data (so it counts as
		// protection), 0 if not.
		for _, d := range dayList {
			tree := make([]Cell, len(byDay[d]))
			copy(tree, byDay[d])
			for i, c := range tree {
				if _, f := forced[dc{d, CellID(c)}]; f {
					tree[i].People = min(c.People, 1)
				}
			}
			dec, err := policy.Decide(PolicyCells(tree))
			if err != nil {
				return nil, err
			}
			for _, c := range tree {
				decided[dc{d, CellID(c)}] = dec[CellID(c)]
			}
		}
		// 2. Each position's week → days tree.
		positions := map[string][]int32{}
		for _, d := range dayList {
			for _, c := range byDay[d] {
				positions[CellID(c)] = append(positions[CellID(c)], d)
			}
		}
		changed := false
		ids := make([]string, 0, len(positions))
		for id := range positions {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		people := func(d int32, id string) int {
			for _, c := range byDay[d] {
				if CellID(c) == id {
					return c.People
				}
			}
			return 0
		}
		for _, id := range ids {
			ds := positions[id]
			w, ok := week[id]
			if !ok {
				// A position active on a day is active in its week; without
				// a weekly decision, hide its days.
				for _, d := range ds {
					if _, f := forced[dc{d, id}]; !f {
						forced[dc{d, id}] = ReasonTemporal
						changed = true
					}
				}
				continue
			}
			wp := w.People
			if !w.Visible {
				wp = min(wp, 1)
			} else if wp < policy.K {
				wp = policy.K // visible by the weekly tree's decision
			}
			tcells := []privacy.Cell{{ID: "week", Level: privacy.LevelOrg, People: wp}}
			for _, d := range ds {
				p := people(d, id)
				if !decided[dc{d, id}].Visible {
					p = min(p, 1)
				}
				tcells = append(tcells, privacy.Cell{ID: fmt.Sprint(d), Parent: "week", Level: privacy.LevelUnit, People: p})
			}
			tdec, err := policy.Decide(tcells)
			if err != nil {
				return nil, err
			}
			for _, d := range ds {
				if !tdec[fmt.Sprint(d)].Visible && decided[dc{d, id}].Visible {
					forced[dc{d, id}] = ReasonTemporal
					changed = true
				}
			}
			// The only active day of a visible week repeats the week's
			// value: if it is hidden, it protects nothing in its day tree.
			if len(ds) == 1 && w.Visible && !decided[dc{ds[0], id}].Visible {
				d := ds[0]
				for _, c := range byDay[d] {
					if _, f := forced[dc{d, CellID(c)}]; !f && decided[dc{d, CellID(c)}].Visible {
						forced[dc{d, CellID(c)}] = ReasonTemporal
						changed = true
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	out := make([]Published, 0, len(cells))
	for _, d := range dayList {
		for _, c := range byDay[d] {
			k := dc{d, CellID(c)}
			dec := decided[k]
			p := Published{Cell: c, Visible: dec.Visible, Reason: dec.Reason}
			if r, f := forced[k]; f && !dec.Visible {
				p.Reason = r
				if c.People < policy.K && r == ReasonTemporal {
					p.Reason = privacy.ReasonBelowK
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}
