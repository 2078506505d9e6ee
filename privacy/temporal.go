package privacy

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
)

// Reasons a daily cell is hidden besides the policy's own (below_k,
// complementary).
const (
	// ReasonTemporal: the day is hidden so that its week's value minus the
	// other visible days of the week is not a hidden day's value (the
	// policy's complementary rule applied to week = Σ days).
	ReasonTemporal Reason = "temporal"
	// ReasonWeeklyOnly: the metric is an end-of-window snapshot (work in
	// progress, requests open past SLA): a team's value on the week's last
	// day IS its weekly value, which would let a day tree be differenced
	// with weekly values. Such metrics are published per week only.
	ReasonWeeklyOnly Reason = "weekly_only"
)

// ApplyDaily publishes daily cells (outcome.Cell.Week holding the day) next to the
// weekly cells of the same weeks, already published by Apply. Publishing
// both windows of one metric gives a reader two sets of equations: each
// day's tree (parent = Σ children) and, per team, unit and the org, week =
// Σ its days. Policy.Decide makes every tree equation safe on its
// own; ApplyDaily also decides each position's week → days tree with the
// same policy (the week is the parent, fixed as Apply decided it: a
// visible week with one hidden day hides another day; a hidden week with
// all days visible hides one), re-deciding the day trees with the newly
// hidden cells until nothing changes. Equations that are each safe can
// still solve a cell together (a hidden day linked through its day tree
// and its week's), so the week's whole system — week tree, day trees,
// week = Σ days — is then solved by exact elimination (integer
// arithmetic, no rounding: a cell is found determined exactly when the
// equations fix it), and while some hidden cell is determined, the
// visible day cell with the fewest people in one of its equations is
// hidden too (and everything settled again). Day cells below K or failing
// the dominance rule (each day's magnitudes, the week's P) enter their
// day trees hidden, before any of this, so all of it protects them. A day
// cell hidden for the week tree or the system has ReasonTemporal (or
// below_k if it has fewer than K people, dominance if it fails the rule).
// A position's only day with data in a visible week repeats the week's
// value (public): if it is hidden, it protects nothing in its day tree, so
// that day's whole tree of the metric is hidden (except other such days),
// and it is never the cell hidden to unlink a determined one.
// Snapshot metrics are hidden on every day (ReasonWeeklyOnly), and a
// percentile over too few values on any day (ReasonFewSamples).
//
// The weekly cells are the reference: ApplyDaily never hides a weekly cell,
// so SQL's weekly table and the Prometheus exporter show the same cells.
func ApplyDaily(policy Policy, weeks []Published, days []outcome.Cell) ([]Published, error) {
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
		// A percentile withheld for too few values is no term of the sums
		// the days are decided on: the days see the tree's decision, the
		// same for every metric of a family, and the samples rule is
		// applied to each day afterwards.
		if p.Reason == ReasonFewSamples {
			p.Visible, p.Reason = true, ReasonVisible
		}
		weekly[k][outcome.CellID(p.Cell)] = p
	}
	groups := map[wm][]outcome.Cell{}
	for _, c := range days {
		if _, ok := outcome.ByID(c.Metric); !ok {
			continue
		}
		k := wm{calendar.WeekStart(c.Week), c.Metric}
		groups[k] = append(groups[k], c)
	}
	// The decisions depend only on the cells' positions, people and
	// dominance (and the weekly decisions, which depend on the same):
	// metrics of one family share them, so each distinct set is decided
	// once.
	type decision struct {
		visible bool
		reason  Reason
	}
	memo := map[string]map[dayCell]decision{}
	out := make([]Published, 0, len(days))
	for k, cells := range groups {
		if outcome.WeeklyOnly(k.metric) {
			for _, c := range cells {
				out = append(out, Published{Cell: c, Reason: ReasonWeeklyOnly})
			}
			continue
		}
		sig := signature(policy, k.week, cells, weekly[k])
		if m, ok := memo[sig]; ok {
			for _, c := range cells {
				d := m[dayCell{c.Week, outcome.CellID(c)}]
				out = append(out, Published{Cell: c, Visible: d.visible, Reason: d.reason})
			}
			continue
		}
		pub, err := decideWeekOfDays(policy, weekly[k], cells)
		if err != nil {
			return nil, fmt.Errorf("suppression policy for %s in the days of the week starting day %d: %w", k.metric, k.week, err)
		}
		m := make(map[dayCell]decision, len(pub))
		for _, p := range pub {
			m[dayCell{p.Week, outcome.CellID(p.Cell)}] = decision{p.Visible, p.Reason}
		}
		memo[sig] = m
		out = append(out, pub...)
	}
	for i := range out {
		out[i] = fewSamples(out[i])
	}
	slices.SortFunc(out, func(a, b Published) int { return compareCells(a.Cell, b.Cell) })
	return out, nil
}

// dayCell names one day cell of a week: its day and its outcome.CellID.
type dayCell struct {
	day int32
	id  string
}

// decideWeekOfDays decides the day cells of one metric in one week.
func decideWeekOfDays(policy Policy, week map[string]Published, cells []outcome.Cell) ([]Published, error) {
	byDay := map[int32][]outcome.Cell{}
	for _, c := range cells {
		byDay[c.Week] = append(byDay[c.Week], c)
	}
	dayList := make([]int32, 0, len(byDay))
	for d := range byDay {
		dayList = append(dayList, d)
	}
	sort.Slice(dayList, func(i, j int) bool { return dayList[i] < dayList[j] })
	people := map[dayCell]int{} // weight: contributors, or 1 for data below the floors
	for d, cs := range byDay {
		for _, c := range cs {
			people[dayCell{d, outcome.CellID(c)}] = weight(c)
		}
	}

	forced := map[dayCell]Reason{}
	decided := map[dayCell]Decision{}
	for round := 0; ; round++ {
		if round > 100000 {
			return nil, fmt.Errorf("%w: daily suppression did not settle", ErrMalformedTree)
		}
		changed, err := settle(policy, week, byDay, dayList, people, forced, decided)
		if err != nil {
			return nil, err
		}
		if changed {
			continue
		}
		// Each equation now has zero or at least two unknowns; the system
		// of all of them may still solve a cell (a hidden day cell linked
		// through its day tree and its week). Hide a visible neighbour of
		// a solvable cell and settle again.
		more := unlink(week, byDay, dayList, people, decided)
		if len(more) == 0 {
			break
		}
		for _, k := range more {
			forced[k] = ReasonTemporal
		}
	}
	out := make([]Published, 0, len(cells))
	for _, d := range dayList {
		for _, c := range byDay[d] {
			k := dayCell{d, outcome.CellID(c)}
			dec := decided[k]
			p := Published{Cell: c, Visible: dec.Visible, Reason: dec.Reason}
			if r, f := forced[k]; f && !dec.Visible {
				p.Reason = r
				if r == ReasonTemporal {
					switch {
					case c.People < policy.K:
						p.Reason = ReasonBelowK
					case policy.DominatedCell(c):
						p.Reason = ReasonDominance
					}
				}
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// settle decides every day tree with the forced cells hidden, then each
// position's week → days tree, forcing the days that tree hides; it
// reports whether anything new was forced.
func settle(policy Policy, week map[string]Published, byDay map[int32][]outcome.Cell, dayList []int32,
	people map[dayCell]int, forced map[dayCell]Reason, decided map[dayCell]Decision) (bool, error) {
	// 1. Each day's tree, with the forced cells hidden. A forced cell
	// keeps People 1 if it carries anyone's data (so it counts as
	// protection), 0 if not. Cells that fail the dominance rule enter
	// hidden (PolicyCells), as below_k ones do.
	for _, d := range dayList {
		tree := make([]outcome.Cell, len(byDay[d]))
		copy(tree, byDay[d])
		for i, c := range tree {
			if _, f := forced[dayCell{d, outcome.CellID(c)}]; f {
				tree[i].People = min(c.People, 1)
			}
		}
		dec, err := policy.Decide(PolicyCells(policy, tree))
		if err != nil {
			return false, err
		}
		for _, c := range tree {
			decided[dayCell{d, outcome.CellID(c)}] = dec[outcome.CellID(c)]
		}
	}
	// 2. Each position's week → days tree.
	// positions: each position's days that hold data (a day cell with
	// nobody behind it is a known zero, no term of week = Σ days).
	positions := map[string][]int32{}
	var ids []string
	for _, d := range dayList {
		for _, c := range byDay[d] {
			id := outcome.CellID(c)
			if _, seen := positions[id]; !seen {
				ids = append(ids, id)
				positions[id] = nil
			}
			if people[dayCell{d, id}] > 0 {
				positions[id] = append(positions[id], d)
			}
		}
	}
	sort.Strings(ids)
	// pinned: the only day with data of a position whose week is visible
	// repeats the week's value, public whether the day is shown or not.
	pinned := func(k dayCell) bool {
		w, ok := week[k.id]
		ds := positions[k.id]
		return ok && w.Visible && len(ds) == 1 && ds[0] == k.day
	}
	changed := false
	force := func(k dayCell) {
		if _, f := forced[k]; !f {
			forced[k] = ReasonTemporal
			changed = true
		}
	}
	for _, id := range ids {
		ds := positions[id]
		w, ok := week[id]
		if !ok {
			// A position active on a day is active in its week; without
			// a weekly decision, hide its days.
			for _, d := range ds {
				force(dayCell{d, id})
			}
			continue
		}
		if len(ds) == 0 {
			continue
		}
		wp := weight(w.Cell)
		if !w.Visible {
			wp = min(wp, 1)
		} else if wp < policy.K {
			wp = policy.K // visible by the weekly tree's decision
		}
		tcells := []Cell{{ID: "week", Level: outcome.LevelOrg, People: wp}}
		for _, d := range ds {
			p := people[dayCell{d, id}]
			if !decided[dayCell{d, id}].Visible {
				p = min(p, 1)
			}
			tcells = append(tcells, Cell{ID: fmt.Sprint(d), Parent: "week", Level: outcome.LevelUnit, People: p})
		}
		tdec, err := policy.Decide(tcells)
		if err != nil {
			return false, err
		}
		for _, d := range ds {
			if !tdec[fmt.Sprint(d)].Visible && decided[dayCell{d, id}].Visible {
				force(dayCell{d, id})
			}
		}
		// The only active day of a visible week repeats the week's
		// value: if it is hidden, it protects nothing in its day tree.
		// (Nor would hiding another such cell of the tree: those stay.)
		if k := (dayCell{ds[0], id}); pinned(k) && !decided[k].Visible {
			for _, c := range byDay[ds[0]] {
				if o := (dayCell{ds[0], outcome.CellID(c)}); decided[o].Visible && !pinned(o) {
					force(o)
				}
			}
		}
	}
	return changed, nil
}

// unlink builds the week's equations — the week tree, each day tree
// (parent = Σ children) and, per position, week = Σ days — over the
// hidden cells that carry someone's data (the unknowns; a hidden cell
// with nobody behind it is a known zero), and returns visible day cells
// to hide next to the first unknown the equations solve: the visible day
// cell with the fewest people in one of its equations (never a position's
// only day in a visible week: its value is public). None means no
// hidden cell is solvable. The equations' coefficients are integers and
// solvable eliminates exactly: a cell it names is determined, and when it
// names none, none is.
func unlink(week map[string]Published, byDay map[int32][]outcome.Cell, dayList []int32,
	people map[dayCell]int, decided map[dayCell]Decision) []dayCell {
	const weekDay = int32(-1 << 30) // the dayCell.day of a week cell
	var unknowns []dayCell
	index := map[dayCell]int{}
	isUnknown := func(k dayCell) bool {
		if k.day == weekDay {
			w, ok := week[k.id]
			return ok && !w.Visible && weight(w.Cell) > 0
		}
		return !decided[k].Visible && people[k] > 0
	}
	var eqs [][]dayCell // entry 0 is the parent (coefficient -1), the rest children (+1)
	addTree := func(day int32, ids []string, parentOf func(string) string) {
		kids := map[string][]string{}
		has := map[string]bool{}
		for _, id := range ids {
			has[id] = true
		}
		for _, id := range ids {
			if p := parentOf(id); p != "" && has[p] {
				kids[p] = append(kids[p], id)
			}
		}
		parents := make([]string, 0, len(kids))
		for p := range kids {
			parents = append(parents, p)
		}
		sort.Strings(parents)
		for _, p := range parents {
			eq := []dayCell{{day, p}}
			for _, k := range kids[p] {
				eq = append(eq, dayCell{day, k})
			}
			eqs = append(eqs, eq)
		}
	}
	parentOf := func(cells map[string]outcome.Cell) func(string) string {
		return func(id string) string {
			c := cells[id]
			switch c.Level {
			case "team":
				return "unit:" + c.Unit
			case "unit":
				return "org"
			}
			return ""
		}
	}
	weekCells := map[string]outcome.Cell{}
	var weekIDs []string
	for id, p := range week {
		weekCells[id] = p.Cell
		weekIDs = append(weekIDs, id)
	}
	sort.Strings(weekIDs)
	addTree(weekDay, weekIDs, parentOf(weekCells))
	daysOf := map[string][]int32{}
	for _, d := range dayList {
		cells := map[string]outcome.Cell{}
		var ids []string
		for _, c := range byDay[d] {
			cells[outcome.CellID(c)] = c
			ids = append(ids, outcome.CellID(c))
			daysOf[outcome.CellID(c)] = append(daysOf[outcome.CellID(c)], d)
		}
		sort.Strings(ids)
		addTree(d, ids, parentOf(cells))
	}
	for _, id := range weekIDs {
		eq := []dayCell{{weekDay, id}}
		for _, d := range daysOf[id] {
			eq = append(eq, dayCell{d, id})
		}
		if len(eq) > 1 {
			eqs = append(eqs, eq)
		}
	}
	var rows [][]term
	var rowEqs [][]dayCell
	for _, eq := range eqs {
		for _, k := range eq {
			if isUnknown(k) {
				if _, ok := index[k]; !ok {
					index[k] = len(unknowns)
					unknowns = append(unknowns, k)
				}
			}
		}
	}
	if len(unknowns) == 0 {
		return nil
	}
	for _, eq := range eqs {
		var r []term
		for j, k := range eq {
			if i, ok := index[k]; ok {
				coef := int64(1)
				if j == 0 {
					coef = -1
				}
				r = append(r, term{i, coef})
			}
		}
		if len(r) > 0 {
			rows = append(rows, r)
			rowEqs = append(rowEqs, eq)
		}
	}
	solved := firstSolvable(rows, len(unknowns))
	if solved < 0 {
		return nil
	}
	target := unknowns[solved]
	// A position's only day in a visible week repeats the week's value:
	// hiding it would protect nothing, and it would stay determined.
	pinned := func(k dayCell) bool {
		w, ok := week[k.id]
		if !ok || !w.Visible {
			return false
		}
		for _, d := range daysOf[k.id] {
			if d != k.day && people[dayCell{d, k.id}] > 0 {
				return false
			}
		}
		return true
	}
	best := dayCell{}
	bestPeople := -1
	for _, eq := range rowEqs {
		in := false
		for _, k := range eq {
			in = in || k == target
		}
		if !in {
			continue
		}
		for _, k := range eq {
			if k.day == weekDay || !decided[k].Visible || people[k] == 0 || pinned(k) {
				continue
			}
			if p := people[k]; bestPeople < 0 || p < bestPeople || p == bestPeople && (k.day < best.day || k.day == best.day && k.id < best.id) {
				best, bestPeople = k, p
			}
		}
	}
	if bestPeople >= 0 {
		return []dayCell{best}
	}
	// No visible day cell shares an equation with it: the visible cells
	// that solve it are further away. Hide every visible day cell of its
	// position and of its day; failing that, of its unit; failing that,
	// of the week (the week tree alone is safe: the policy decided it).
	unitOf := func(id string) string {
		for _, d := range dayList {
			for _, c := range byDay[d] {
				if outcome.CellID(c) == id {
					return c.Unit
				}
			}
		}
		if w, ok := week[id]; ok {
			return w.Unit
		}
		return ""
	}
	tu := unitOf(target.id)
	for _, near := range []func(k dayCell, c outcome.Cell) bool{
		func(k dayCell, _ outcome.Cell) bool { return k.id == target.id || k.day == target.day },
		func(_ dayCell, c outcome.Cell) bool { return c.Unit == tu || c.Level == outcome.LevelOrg },
		func(dayCell, outcome.Cell) bool { return true },
	} {
		var out []dayCell
		for _, d := range dayList {
			for _, c := range byDay[d] {
				k := dayCell{d, outcome.CellID(c)}
				if decided[k].Visible && people[k] > 0 && !pinned(k) && near(k, c) {
					out = append(out, k)
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}

// term is one unknown's coefficient in an equation (firstSolvable).
type term struct {
	col  int
	coef int64
}

// firstSolvable is solvable for equations given by their terms (an
// unknown may appear more than once: its coefficients add up), one
// connected component at a time: unknowns that share an equation are
// linked, and the system is block diagonal over the components, so an
// unknown is determined by all the equations exactly when it is by its
// component's, and the first determined unknown is the least of each
// component's first. Each component is eliminated sparsely
// (solvableSparse): one dense matrix over every unknown of a week of
// 2,000 teams held 165 MiB at its release, the largest allocation of a
// first start on a 20 M event store (BENCHMARKS.md), and its elimination
// was most of the release's CPU.
func firstSolvable(eqs [][]term, n int) int {
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for _, eq := range eqs {
		for _, t := range eq[1:] {
			if a, b := find(eq[0].col), find(t.col); a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	// Each component's unknowns in increasing order, so that its first
	// determined unknown maps to its least global index.
	cols := map[int][]int{}
	local := make([]int, n)
	for c := range n {
		r := find(c)
		local[c] = len(cols[r])
		cols[r] = append(cols[r], c)
	}
	byComp := map[int][][]term{}
	for _, eq := range eqs {
		r := find(eq[0].col)
		byComp[r] = append(byComp[r], eq)
	}
	best := -1
	for r, eqs := range byComp {
		for _, eq := range eqs {
			for k := range eq {
				eq[k].col = local[eq[k].col]
			}
		}
		j, ok := solvableSparse(eqs, len(cols[r]))
		if !ok {
			// An entry passed maxEntry: solve the component densely
			// (solvable goes on in math/big.Rat).
			rows := make([][]int64, len(eqs))
			for i, eq := range eqs {
				rows[i] = make([]int64, len(cols[r]))
				for _, t := range eq {
					rows[i][t.col] += t.coef
				}
			}
			j = solvable(rows, len(cols[r]))
		}
		if j >= 0 && (best < 0 || cols[r][j] < best) {
			best = cols[r][j]
		}
	}
	return best
}

// solvableSparse is solvableInt64 over rows kept sparse (an unknown's
// non-zero coefficient by unknown, and the rows each unknown is in): the
// same fraction-free Gauss-Jordan elimination to reduced row echelon form,
// which keeps a week's tree equations nearly as sparse as they start,
// where a dense matrix over a component of a few thousand unknowns held
// 170 MB. It returns the first determined unknown (or -1), and false when
// an entry would pass maxEntry; eqs' coefficients of one unknown add up.
func solvableSparse(eqs [][]term, n int) (int, bool) {
	rows := make([]map[int]int64, 0, len(eqs))
	in := make([]map[int]struct{}, n) // unknown → the rows with a non-zero entry for it
	note := func(i, c int) {
		if in[c] == nil {
			in[c] = map[int]struct{}{}
		}
		in[c][i] = struct{}{}
	}
	for _, eq := range eqs {
		r := map[int]int64{}
		for _, t := range eq {
			r[t.col] += t.coef
		}
		for c, v := range r {
			if v == 0 {
				delete(r, c)
			} else if v > maxEntry || v < -maxEntry {
				return 0, false
			}
		}
		if len(r) == 0 {
			continue
		}
		for c := range r {
			note(len(rows), c)
		}
		rows = append(rows, r)
	}
	// reduce replaces row i by p[col]·r − r[col]·p (p[col] and r[col]
	// first divided by their gcd), divided by the gcd of its entries.
	reduce := func(i int, p map[int]int64, col int) bool {
		r := rows[i]
		g := gcd(p[col], r[col])
		fp, fr := p[col]/g, r[col]/g
		next := make(map[int]int64, len(r)+len(p))
		for c, v := range r {
			next[c] = fp * v
		}
		for c, v := range p {
			next[c] -= fr * v
		}
		h := int64(0)
		for c, v := range next {
			if v == 0 {
				delete(next, c)
			} else if h != 1 {
				h = gcd(h, v)
			}
		}
		for c, v := range next {
			if h > 1 {
				v /= h
				next[c] = v
			}
			if v > maxEntry || v < -maxEntry {
				return false
			}
		}
		for c := range r {
			if _, ok := next[c]; !ok {
				delete(in[c], i)
			}
		}
		for c := range next {
			if _, ok := r[c]; !ok {
				note(i, c)
			}
		}
		rows[i] = next
		return true
	}
	pivot := make([]int, len(rows)) // the row's pivot column + 1, 0 while it has none
	var basis []int
	for col := range n {
		// Any row with a non-zero entry will do (the result does not
		// depend on the choice); the smallest entry keeps the others
		// small, the lowest row makes the choice deterministic.
		best := -1
		for i := range in[col] {
			if pivot[i] != 0 {
				continue
			}
			if a, b := abs64(rows[i][col]), int64(0); best >= 0 {
				b = abs64(rows[best][col])
				if a > b || a == b && i > best {
					continue
				}
			}
			best = i
		}
		if best < 0 {
			continue
		}
		pivot[best] = col + 1
		basis = append(basis, best)
		p := rows[best]
		others := make([]int, 0, len(in[col]))
		for i := range in[col] {
			if i != best {
				others = append(others, i)
			}
		}
		for _, i := range others {
			if !reduce(i, p, col) {
				return 0, false
			}
		}
	}
	// Reduced row echelon form: an unknown is determined exactly when a
	// basis row has its pivot there and no other non-zero entry.
	first := -1
	for _, i := range basis {
		if c := pivot[i] - 1; len(rows[i]) == 1 && (first < 0 || c < first) {
			first = c
		}
	}
	return first, true
}

// solvable returns the first unknown whose value the rows (linear
// equations with integer coefficients and a known right-hand side)
// determine — its unit vector is in their span — or -1. The elimination
// is exact: Gauss-Jordan over the integers, in int64 while every entry
// stays within ±maxEntry (the coefficients here are ±1 and stay small),
// else over math/big.Rat. It overwrites rows.
func solvable(rows [][]int64, n int) int {
	j, rest := solvableInt64(rows, n)
	if rest != nil {
		return solvableRat(rest, n)
	}
	return j
}

// maxEntry bounds the entries solvableInt64 keeps: a product of two is
// below 2⁶², a difference of two products below 2⁶³.
const maxEntry = 1<<31 - 1

// solvableInt64 is solvable in int64 arithmetic, fraction-free: a row r
// is reduced by the pivot row p at column c as p[c]·r − r[c]·p (with
// p[c] and r[c] first divided by their gcd), then divided by the gcd of
// its entries.
// Each step is invertible, so the rows always span what they spanned at
// the start. When an entry exceeds maxEntry it gives up and returns the
// rows it has (still exact, and spanning the same) for solvableRat.
func solvableInt64(rows [][]int64, n int) (int, [][]int64) {
	for _, r := range rows {
		for _, v := range r {
			if v > maxEntry || v < -maxEntry {
				return 0, rows
			}
		}
	}
	// reduce reduces r by p at col as above; it reports whether every
	// entry of r is still within maxEntry.
	reduce := func(r, p []int64, col int) bool {
		g := gcd(p[col], r[col])
		fp, fr := p[col]/g, r[col]/g
		h := int64(0)
		for k := range r {
			r[k] = fp*r[k] - fr*p[k]
			if h != 1 && r[k] != 0 {
				h = gcd(h, r[k])
			}
		}
		ok := true
		for k := range r {
			if h > 1 {
				r[k] /= h
			}
			ok = ok && r[k] <= maxEntry && r[k] >= -maxEntry
		}
		return ok
	}
	type pivot struct {
		col int
		row []int64
	}
	var basis []pivot
	// giveUp returns every row, reduced or not.
	giveUp := func() [][]int64 {
		rest := slices.DeleteFunc(rows, func(r []int64) bool { return r == nil })
		for _, b := range basis {
			rest = append(rest, b.row)
		}
		return rest
	}
	for col := 0; col < n; col++ {
		// Any row with a non-zero entry will do (the result does not
		// depend on the choice); the smallest entry keeps the others small.
		best := -1
		for i, r := range rows {
			if r != nil && r[col] != 0 && (best < 0 || abs64(r[col]) < abs64(rows[best][col])) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		p := rows[best]
		rows[best] = nil
		basis = append(basis, pivot{col, p})
		for _, r := range rows {
			if r != nil && r[col] != 0 && !reduce(r, p, col) {
				return 0, giveUp()
			}
		}
		for _, b := range basis[:len(basis)-1] {
			if b.row[col] != 0 && !reduce(b.row, p, col) {
				return 0, giveUp()
			}
		}
	}
	// In reduced row echelon form, unknown j is determined exactly when a
	// basis row has its pivot at j and no other non-zero entry.
	for _, b := range basis {
		nonzero := 0
		for _, v := range b.row {
			if v != 0 {
				nonzero++
			}
		}
		if nonzero == 1 {
			return b.col, nil
		}
	}
	return -1, nil
}

// solvableRat is solvable in math/big.Rat arithmetic: Gauss-Jordan with
// each pivot row scaled to a leading 1.
func solvableRat(rows [][]int64, n int) int {
	work := make([][]*big.Rat, len(rows))
	for i, r := range rows {
		work[i] = make([]*big.Rat, n)
		for k, v := range r {
			work[i][k] = new(big.Rat).SetInt64(v)
		}
	}
	type pivot struct {
		col int
		row []*big.Rat
	}
	var basis []pivot
	var t big.Rat
	reduce := func(r, p []*big.Rat, col int) {
		f := new(big.Rat).Set(r[col])
		for k := range r {
			r[k].Sub(r[k], t.Mul(f, p[k]))
		}
	}
	for col := 0; col < n; col++ {
		best := -1
		for i, r := range work {
			if r != nil && r[col].Sign() != 0 {
				best = i
				break
			}
		}
		if best < 0 {
			continue
		}
		p := work[best]
		work[best] = nil
		f := new(big.Rat).Inv(p[col])
		for k := range p {
			p[k].Mul(p[k], f)
		}
		for _, r := range work {
			if r != nil && r[col].Sign() != 0 {
				reduce(r, p, col)
			}
		}
		for _, b := range basis {
			if b.row[col].Sign() != 0 {
				reduce(b.row, p, col)
			}
		}
		basis = append(basis, pivot{col, p})
	}
	for _, b := range basis {
		nonzero := 0
		for _, v := range b.row {
			if v.Sign() != 0 {
				nonzero++
			}
		}
		if nonzero == 1 {
			return b.col
		}
	}
	return -1
}

func gcd(a, b int64) int64 {
	a, b = abs64(a), abs64(b)
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// signature identifies what the daily decisions of one metric's week
// depend on: every day cell's position, people, weight and dominance, and
// every weekly cell's position, people, weight and decision.
func signature(policy Policy, week int32, cells []outcome.Cell, weekly map[string]Published) string {
	parts := make([]string, 0, len(cells)+len(weekly))
	for _, c := range cells {
		parts = append(parts, fmt.Sprintf("d%d|%s|%s|%d|%d|%v", c.Week, outcome.CellID(c), c.Unit, c.People, weight(c), policy.DominatedCell(c)))
	}
	for id, p := range weekly {
		parts = append(parts, fmt.Sprintf("w|%s|%s|%d|%d|%v|%s", id, p.Unit, p.People, weight(p.Cell), p.Visible, p.Reason))
	}
	sort.Strings(parts)
	return fmt.Sprint(week) + "\n" + strings.Join(parts, "\n")
}
