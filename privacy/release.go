package privacy

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shoal-analytics/shoal/outcome"
)

// Hierarchy is the org tree a release is decided under: every unit with
// its teams. It is recorded with the release, so a later reorganisation
// never re-decides a released week.
type Hierarchy struct {
	Units []HierarchyUnit `json:"units"`
}

// HierarchyUnit is one unit of a Hierarchy and its team ids.
type HierarchyUnit struct {
	ID    string   `json:"id"`
	Teams []string `json:"teams"`
}

// Normalized returns h with units and teams sorted, empty units dropped
// and each team in one unit only (the first that lists it, in sorted
// order), so that equal trees compare equal.
func (h Hierarchy) Normalized() Hierarchy {
	seen := map[string]bool{}
	units := slices.Clone(h.Units)
	slices.SortFunc(units, func(a, b HierarchyUnit) int { return strings.Compare(a.ID, b.ID) })
	var out Hierarchy
	for _, u := range units {
		teams := slices.Clone(u.Teams)
		slices.Sort(teams)
		teams = slices.Compact(teams)
		teams = slices.DeleteFunc(teams, func(t string) bool { return t == "" || seen[t] })
		for _, t := range teams {
			seen[t] = true
		}
		if len(teams) > 0 {
			out.Units = append(out.Units, HierarchyUnit{ID: u.ID, Teams: teams})
		}
	}
	return out
}

// QualityCell is the count of events accepted in one period of a release
// (the week, or one of its days), by team-local event day, with its
// disclosure decision. The count is Shoal's own activity, but it is also
// the number of things people did that day: it is released by the same
// rules as the outcome cells (a week of fewer than k contributors is
// withheld; a day of fewer than k is withheld, and so is a second day
// wherever a single withheld day could be worked out as the week minus
// the visible days).
type QualityCell struct {
	// Period is the day, or the week's Monday when Days is 7.
	Period   int32
	Days     int32 // 7 for the week, 1 for a day
	Accepted int64 // 0 when withheld
	Visible  bool
	Reason   Reason
}

// Release is one ISO week decided for publication, with its days: what
// every output reads, and the only thing they read. Its cells form a
// dense grid: every position of the hierarchy (the org, each unit, each
// team) has a cell of every metric for the week and for each of its days,
// whether the position had any activity or not, so that a cell's
// existence says nothing. Withheld cells carry no value (Value 0, People
// and Samples 0); visible values are rounded (Round).
type Release struct {
	Week      int32 // the Monday, days since 1970-01-01
	Hierarchy Hierarchy
	K         int
	Weekly    []Published // sorted by metric, level, unit, team
	Daily     []Published // sorted by day, metric, level, unit, team
	Quality   []QualityCell
}

// NewRelease decides the release of the ISO week starting on week: the weekly
// cells by Apply, the daily cells by ApplyDaily (days decided together
// with their week, in exact arithmetic), then the dense grid over h, the
// data-quality counts (quality, the accepted events of the week's days)
// by the same rules, and rounding. weekly and daily are the week's cells
// as transform computed them under h (cells of other periods are
// ignored).
func NewRelease(policy Policy, h Hierarchy, week int32, weekly, daily []outcome.Cell, quality []outcome.QualityDay) (Release, error) {
	h = h.Normalized()
	var w, d []outcome.Cell
	for _, c := range weekly {
		if c.Week == week {
			w = append(w, c)
		}
	}
	for _, c := range daily {
		if c.Week >= week && c.Week < week+7 {
			d = append(d, c)
		}
	}
	pw, err := Apply(policy, w)
	if err != nil {
		return Release{}, fmt.Errorf("release of the week starting day %d: %w", week, err)
	}
	pd, err := ApplyDaily(policy, pw, d)
	if err != nil {
		return Release{}, fmt.Errorf("release of the week starting day %d: %w", week, err)
	}
	r := Release{Week: week, Hierarchy: h, K: policy.K}
	r.Weekly = dense(h, []int32{week}, pw, false)
	days := make([]int32, 7)
	for i := range days {
		days[i] = week + int32(i)
	}
	r.Daily = dense(h, days, pd, true)
	r.Quality = releaseQuality(policy, week, quality, pw, pd)
	return r, nil
}

// dense returns cells with a cell for every position of h (and any
// position cells have that h does not list) in every period of periods
// and every catalog metric: a missing one is withheld below_k (or, on a
// day, weekly_only for a snapshot metric). Withheld cells lose their
// value and counts; visible ones are rounded.
func dense(h Hierarchy, periods []int32, cells []Published, daily bool) []Published {
	type pos struct {
		level      outcome.Level
		unit, team string
	}
	positions := []pos{{level: outcome.LevelOrg}}
	for _, u := range h.Units {
		positions = append(positions, pos{outcome.LevelUnit, u.ID, ""})
		for _, t := range u.Teams {
			positions = append(positions, pos{outcome.LevelTeam, u.ID, t})
		}
	}
	known := make(map[pos]bool, len(positions))
	for _, p := range positions {
		known[p] = true
	}
	type key struct {
		period int32
		metric string
		pos
	}
	have := make(map[key]bool, len(cells))
	out := make([]Published, 0, len(positions)*len(periods)*len(outcome.Catalog))
	for _, c := range cells {
		p := pos{c.Level, c.Unit, c.Team}
		if p.level == outcome.LevelOrg {
			p.unit, p.team = "", ""
		}
		if !known[p] {
			known[p] = true
			positions = append(positions, p)
		}
		have[key{c.Week, c.Metric, p}] = true
		out = append(out, finish(c))
	}
	for _, period := range periods {
		for _, m := range outcome.Catalog {
			for _, p := range positions {
				if have[key{period, m.ID, p}] {
					continue
				}
				reason := ReasonBelowK
				if daily && outcome.WeeklyOnly(m.ID) {
					reason = ReasonWeeklyOnly
				}
				out = append(out, Published{Cell: outcome.Cell{Week: period, Level: p.level, Unit: p.unit, Team: p.team, Metric: m.ID}, Reason: reason})
			}
		}
	}
	slices.SortFunc(out, func(a, b Published) int { return compareCells(a.Cell, b.Cell) })
	return out
}

// finish is a decided cell as a release holds it: a withheld cell without
// its value, people or samples (so nothing downstream can show them); a
// visible one rounded, and without its counts.
func finish(p Published) Published {
	p.People, p.Samples, p.Magnitudes = 0, 0, nil
	if !p.Visible {
		p.Value, p.Defined = 0, false
		return p
	}
	if !p.Defined {
		p.Value = 0
		return p
	}
	m, _ := outcome.ByID(p.Metric)
	p.Value = Round(p.Value, m.Unit)
	return p
}

// SignificantDigits is the precision of released values that are not
// counts: enough for a reader (0.1 % of a value), too little to reveal a
// ratio's denominator (meeting_load 29454.545… × 11 = 324000 told the
// team's size; 29500 does not).
const SignificantDigits = 3

// Round is v as released: counts (tasks, requests) are whole numbers
// already and stay exact; every other value is rounded to
// SignificantDigits significant digits.
func Round(v float64, u outcome.Unit) float64 {
	if u == outcome.Tasks || u == outcome.Requests {
		return math.Round(v)
	}
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	// Through the shortest decimal form, so that the value is the decimal
	// a reader sees (0.124, not 0.12400000000000001).
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', SignificantDigits, 64), 64)
	return r
}

// releaseQuality decides the accepted-event counts of the week and its
// days. The people behind a count are the org's contributors (the most of
// any family, a lower bound on the distinct people) of the period.
func releaseQuality(policy Policy, week int32, quality []outcome.QualityDay, weekly, daily []Published) []QualityCell {
	people := map[int32]int{}
	for _, c := range weekly {
		if c.Level == outcome.LevelOrg {
			people[-1] = max(people[-1], c.People)
		}
	}
	for _, c := range daily {
		if c.Level == outcome.LevelOrg {
			people[c.Week] = max(people[c.Week], c.People)
		}
	}
	accepted := map[int32]int64{}
	var total int64
	for _, q := range quality {
		if q.Day >= week && q.Day < week+7 {
			accepted[q.Day] = q.Accepted
			total += q.Accepted
		}
	}
	out := []QualityCell{{Period: week, Days: 7, Accepted: total, Visible: policy.Visible(people[-1])}}
	for d := week; d < week+7; d++ {
		out = append(out, QualityCell{Period: d, Days: 1, Accepted: accepted[d], Visible: out[0].Visible && policy.Visible(people[d])})
	}
	days := out[1:]
	// week = Σ days: one withheld day with events would be the week minus
	// the visible days; withhold the visible day with the fewest events
	// too.
	hidden := 0
	for _, q := range days {
		if !q.Visible && q.Accepted > 0 {
			hidden++
		}
	}
	if out[0].Visible && hidden == 1 {
		best := -1
		for i, q := range days {
			if q.Visible && (best < 0 || cmp.Compare(q.Accepted, days[best].Accepted) < 0) {
				best = i
			}
		}
		if best >= 0 {
			days[best].Visible, days[best].Reason = false, ReasonComplementary
		}
	}
	for i := range out {
		if !out[i].Visible {
			out[i].Accepted = 0
			if out[i].Reason == ReasonVisible {
				out[i].Reason = ReasonBelowK
			}
		}
	}
	return out
}

// WeeklyReasons are the reasons a weekly cell of a release can be withheld
// for, in the order outputs list them.
var WeeklyReasons = []Reason{ReasonBelowK, ReasonDominance, ReasonComplementary, ReasonFewSamples}
