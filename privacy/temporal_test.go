package privacy

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy/privacytest"
)

// TestApplyDaily: a unit with teams a and b, visible for the week. On
// Tuesday a has 2 people (below k). The day trees alone would hide a and
// its sibling b on Tuesday, leaving the week's value minus Monday's for each
// team as Tuesday's: the week → days rule hides a second day of each.
func TestApplyDaily(t *testing.T) {
	policy, err := NewPolicy(5, DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	const week = int32(20409) // a Monday (2025-11-17)
	cell := func(period int32, level outcome.Level, unit, team string, people int) outcome.Cell {
		return outcome.Cell{Week: period, Level: level, Unit: unit, Team: team, Metric: "tasks_completed", Value: 1, Defined: true, People: people}
	}
	tree := func(period int32, a, b int) []outcome.Cell {
		return []outcome.Cell{cell(period, outcome.LevelOrg, "", "", a+b), cell(period, outcome.LevelUnit, "u", "", a+b),
			cell(period, outcome.LevelTeam, "u", "a", a), cell(period, outcome.LevelTeam, "u", "b", b)}
	}
	weekly, err := Apply(policy, tree(week, 8, 9))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range weekly {
		if !p.Visible {
			t.Fatalf("week cell %+v hidden", p)
		}
	}
	var days []outcome.Cell
	days = append(days, tree(week, 6, 7)...)   // Monday
	days = append(days, tree(week+1, 2, 6)...) // Tuesday: a below k
	days = append(days, tree(week+2, 7, 8)...) // Wednesday
	days = append(days, outcome.Cell{Week: week, Level: outcome.LevelTeam, Unit: "u", Team: "a", Metric: "work_in_progress", People: 6, Defined: true})
	out, err := ApplyDaily(policy, weekly, days)
	if err != nil {
		t.Fatal(err)
	}
	hidden := map[string]map[int32]Reason{}
	for _, p := range out {
		if p.Metric == "work_in_progress" {
			if p.Visible || p.Reason != ReasonWeeklyOnly {
				t.Errorf("snapshot metric per day: %+v", p)
			}
			continue
		}
		id := outcome.CellID(p.Cell)
		if hidden[id] == nil {
			hidden[id] = map[int32]Reason{}
		}
		if !p.Visible {
			hidden[id][p.Week-week] = p.Reason
		}
	}
	if hidden["team:a"][1] != ReasonBelowK {
		t.Errorf("a on Tuesday: %v, want below_k", hidden["team:a"])
	}
	for _, id := range []string{"team:a", "team:b"} {
		if len(hidden[id]) < 2 {
			t.Errorf("%s: hidden on days %v: its week minus the visible days would give the hidden one", id, hidden[id])
		}
	}
	for _, id := range []string{"org", "unit:u"} {
		if len(hidden[id]) == 1 {
			t.Errorf("%s: exactly one hidden day %v", id, hidden[id])
		}
	}
	// Days matched with their week are published where it is safe: the
	// org has at least k people every day and no sibling.
	if len(hidden["org"]) > 0 {
		t.Errorf("org hidden on days %v", hidden["org"])
	}
}

// weekShape is the organisation randomWeek draws: teams[u] teams in unit
// u, each of people[0] to people[1] people, with cells on the given days (offsets
// 0-6 from the Monday).
type weekShape struct {
	teams  []int
	people [2]int // the bounds of a team's size
	days   []int32
	// activity bounds each day's chance that a member is active.
	activity [2]float64
	// empty keeps some cells with nobody behind them (a team with no
	// activity on a day), as a known zero.
	empty bool
}

const benchWeek = int32(20409) // a Monday (2025-11-17)

// randomWeek draws one week of tasks_completed: each team's members are
// active on a day with that day's probability, so a team's week has the
// people active on any of its days and a parent the sum of its children.
func randomWeek(r *rand.Rand, s weekShape) (weekly, daily []outcome.Cell) {
	const metric = "tasks_completed"
	type pos struct {
		level      outcome.Level
		unit, team string
	}
	dayPeople := map[pos]map[int32]int{}
	weekPeople := map[pos]int{}
	present := map[pos]map[int32]bool{}
	add := func(p pos, d int32, n int, keep bool) {
		if dayPeople[p] == nil {
			dayPeople[p], present[p] = map[int32]int{}, map[int32]bool{}
		}
		dayPeople[p][d] += n
		present[p][d] = present[p][d] || n > 0 || keep
	}
	prob := make([]float64, len(s.days))
	for i := range prob {
		prob[i] = s.activity[0] + (s.activity[1]-s.activity[0])*r.Float64()
	}
	org := pos{level: outcome.LevelOrg}
	for u, nt := range s.teams {
		unit := pos{outcome.LevelUnit, fmt.Sprintf("u%d", u), ""}
		for t := range nt {
			team := pos{outcome.LevelTeam, unit.unit, fmt.Sprintf("%s-t%d", unit.unit, t)}
			active := make([]bool, s.people[0]+r.IntN(s.people[1]-s.people[0]+1))
			for i, d := range s.days {
				n := 0
				for m := range active {
					if r.Float64() < prob[i] {
						active[m] = true
						n++
					}
				}
				keep := s.empty && r.IntN(2) == 0
				add(team, d, n, keep)
				add(unit, d, n, keep)
				add(org, d, n, keep)
			}
			n := 0
			for _, a := range active {
				if a {
					n++
				}
			}
			weekPeople[team] += n
			weekPeople[unit] += n
			weekPeople[org] += n
		}
	}
	cell := func(p pos, period int32, n int) outcome.Cell {
		return outcome.Cell{Week: period, Level: p.level, Unit: p.unit, Team: p.team, Metric: metric, Value: float64(n), Defined: true, People: n}
	}
	for p, ds := range dayPeople {
		inWeek := false
		for _, d := range s.days {
			if present[p][d] {
				daily = append(daily, cell(p, benchWeek+d, ds[d]))
				inWeek = true
			}
		}
		if inWeek {
			weekly = append(weekly, cell(p, benchWeek, weekPeople[p]))
		}
	}
	return weekly, daily
}

// readerEquations are the equations a reader of the published weekly and
// daily cells of one metric's week has, in privacytest.Determined's form:
// each tree's parent = Σ children and, per position, week = Σ its days.
// The unknowns are the hidden cells with people behind them; cells names
// them.
func readerEquations(weekly, daily []Published) (eqs [][]int, cells []string) {
	type key struct {
		daily bool
		day   int32
		id    string
	}
	pub := map[key]Published{}
	for _, p := range weekly {
		pub[key{false, p.Week, outcome.CellID(p.Cell)}] = p
	}
	for _, p := range daily {
		pub[key{true, p.Week, outcome.CellID(p.Cell)}] = p
	}
	index := map[key]int{}
	unknown := func(k key) int {
		p := pub[k]
		if p.Visible || !p.HasData() { // a cell nobody contributed to is a known zero
			return -1
		}
		if i, ok := index[k]; ok {
			return i
		}
		index[k] = len(cells)
		cells = append(cells, fmt.Sprintf("%+v", k))
		return index[k]
	}
	keys := slices.SortedFunc(maps.Keys(pub), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.id, b.id), cmp.Compare(fmt.Sprint(a.daily), fmt.Sprint(b.daily)))
	})
	children := map[key][]key{}
	var parents []key
	for _, k := range keys {
		c := pub[k].Cell
		parent := key{k.daily, k.day, "org"}
		switch c.Level {
		case outcome.LevelTeam:
			parent.id = "unit:" + c.Unit
		case outcome.LevelOrg:
			continue
		}
		if _, ok := pub[parent]; !ok {
			continue
		}
		if children[parent] == nil {
			parents = append(parents, parent)
		}
		children[parent] = append(children[parent], k)
	}
	for _, p := range parents {
		eq := []int{unknown(p)}
		for _, k := range children[p] {
			eq = append(eq, unknown(k))
		}
		eqs = append(eqs, eq)
	}
	for _, k := range keys {
		if k.daily {
			continue
		}
		eq := []int{unknown(k)}
		for d := range int32(7) {
			if dk := (key{true, k.day + d, k.id}); pub[dk].Metric != "" {
				eq = append(eq, unknown(dk))
			}
		}
		if len(eq) > 1 {
			eqs = append(eqs, eq)
		}
	}
	return eqs, cells
}

// benchShape is a realistic week: 40 teams of 3 to 12 people in 8 units,
// with cells on all 7 days, each member active on 40-100 % of them.
var benchShape = weekShape{teams: []int{5, 5, 5, 5, 5, 5, 5, 5}, people: [2]int{3, 12}, days: []int32{0, 1, 2, 3, 4, 5, 6}, activity: [2]float64{0.4, 1}}

// BenchmarkApplyDaily decides one realistic random week of one metric,
// for benchShape and for an organisation of 2,000 teams in 100 units (the
// large preset's size; -benchmem shows what a release's daily decision
// allocates there).
func BenchmarkApplyDaily(b *testing.B) {
	large := benchShape
	large.teams = slices.Repeat([]int{20}, 100)
	for _, sh := range []struct {
		name  string
		shape weekShape
	}{{"teams=40", benchShape}, {"teams=2000", large}} {
		b.Run(sh.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			p := mustPolicy(b, DefaultMinGroupSize)
			weekly, daily := randomWeek(r, sh.shape)
			wp, err := Apply(p, weekly)
			if err != nil {
				b.Fatal(err)
			}
			var out []Published
			for b.Loop() {
				if out, err = ApplyDaily(p, wp, daily); err != nil {
					b.Fatal(err)
				}
			}
			hidden := 0
			for _, c := range out {
				if !c.Visible {
					hidden++
				}
			}
			b.ReportMetric(float64(len(out)), "day_cells")
			b.ReportMetric(float64(hidden), "hidden_day_cells")
		})
	}
}

// BenchmarkSolvable solves the final systems of eight realistic random
// weeks (those ApplyDaily leaves: no hidden cell determined, so the
// elimination runs to the end).
func BenchmarkSolvable(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	p := mustPolicy(b, DefaultMinGroupSize)
	type system struct {
		eqs [][]int
		n   int
	}
	var systems []system
	unknowns := 0
	for range 8 {
		weekly, daily := randomWeek(r, benchShape)
		wp, err := Apply(p, weekly)
		if err != nil {
			b.Fatal(err)
		}
		dp, err := ApplyDaily(p, wp, daily)
		if err != nil {
			b.Fatal(err)
		}
		eqs, cells := readerEquations(wp, dp)
		systems = append(systems, system{eqs, len(cells)})
		unknowns += len(cells)
	}
	for b.Loop() {
		for _, s := range systems {
			if j := solvable(privacytest.Rows(s.eqs, s.n), s.n); j >= 0 {
				b.Fatalf("unknown %d of %d determined", j, s.n)
			}
		}
	}
	b.ReportMetric(float64(unknowns)/float64(len(systems)), "unknowns/system")
}

// TestApplyDailyNothingDetermined decides random small organisations'
// weeks and checks with privacytest.Determined, which shares no code or
// method with solvable, that no hidden cell can be computed from the
// equations a reader of the published cells has.
func TestApplyDailyNothingDetermined(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 2))
	p := mustPolicy(t, DefaultMinGroupSize)
	unknowns := 0
	for i := range 500 {
		s := weekShape{people: [2]int{0, 12}, activity: [2]float64{0, 1}, empty: true}
		for range 1 + r.IntN(3) {
			s.teams = append(s.teams, 1+r.IntN(4))
		}
		s.days = make([]int32, 0, 7)
		for _, d := range r.Perm(7)[:1+r.IntN(7)] {
			s.days = append(s.days, int32(d))
		}
		slices.Sort(s.days)
		weekly, daily := randomWeek(r, s)
		wp, err := Apply(p, weekly)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := ApplyDaily(p, wp, daily)
		if err != nil {
			t.Fatal(err)
		}
		eqs, cells := readerEquations(wp, dp)
		unknowns += len(cells)
		for _, j := range privacytest.Determined(eqs, len(cells)) {
			t.Errorf("case %d (teams per unit %v, days %v): hidden cell %s is determined", i, s.teams, s.days, cells[j])
		}
	}
	t.Logf("%d hidden cells with people checked", unknowns)
}

// TestSolvable checks solvable against privacytest.Determined on random
// systems: it must return the first determined unknown, or -1 when there
// is none.
func TestSolvable(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 3))
	found := 0
	for i := range 2000 {
		n := 1 + r.IntN(12)
		var eqs [][]int
		for range r.IntN(n + 3) {
			eq := []int{-1}
			if r.IntN(3) > 0 {
				eq[0] = r.IntN(n)
			}
			for range 1 + r.IntN(4) {
				u := -1
				if r.IntN(4) > 0 {
					u = r.IntN(n)
				}
				eq = append(eq, u)
			}
			eqs = append(eqs, eq)
		}
		want := -1
		if d := privacytest.Determined(eqs, n); len(d) > 0 {
			want = d[0]
			found++
		}
		if got := solvable(privacytest.Rows(eqs, n), n); got != want {
			t.Errorf("case %d: solvable(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
		if got := solvableRat(privacytest.Rows(eqs, n), n); got != want {
			t.Errorf("case %d: solvableRat(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
		if got := firstSolvable(terms(eqs), n); got != want {
			t.Errorf("case %d: firstSolvable(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
	}
	t.Logf("%d of 2000 systems determine an unknown", found)
}

// terms is privacytest.Rows for firstSolvable: the first unknown of an
// equation has coefficient -1, the others +1; -1 is a known cell.
func terms(eqs [][]int) [][]term {
	var out [][]term
	for _, eq := range eqs {
		var r []term
		for i, u := range eq {
			switch {
			case u < 0:
			case i == 0:
				r = append(r, term{u, -1})
			default:
				r = append(r, term{u, 1})
			}
		}
		if len(r) > 0 {
			out = append(out, r)
		}
	}
	return out
}

// TestFirstSolvableComponents: several random systems (some determining
// an unknown, some not) over disjoint unknowns, their labels shuffled
// together: firstSolvable, which solves each connected component on its
// own, must name the first determined unknown of the whole, as
// privacytest.Determined finds it.
func TestFirstSolvableComponents(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 5))
	found := 0
	for i := range 500 {
		var eqs [][]int
		n := 0
		for range 1 + r.IntN(5) {
			m := 1 + r.IntN(8)
			for range r.IntN(m + 2) {
				eq := []int{-1}
				if r.IntN(3) > 0 {
					eq[0] = n + r.IntN(m)
				}
				for range 1 + r.IntN(3) {
					eq = append(eq, n+r.IntN(m))
				}
				eqs = append(eqs, eq)
			}
			n += m
		}
		perm := r.Perm(n)
		for _, eq := range eqs {
			for j, u := range eq {
				if u >= 0 {
					eq[j] = perm[u]
				}
			}
		}
		r.Shuffle(len(eqs), func(i, j int) { eqs[i], eqs[j] = eqs[j], eqs[i] })
		want := -1
		if d := privacytest.Determined(eqs, n); len(d) > 0 {
			want = d[0]
			found++
		}
		if got := firstSolvable(terms(eqs), n); got != want {
			t.Errorf("case %d: firstSolvable(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
	}
	if found == 0 || found == 500 {
		t.Fatalf("%d of 500 systems determine an unknown: the cases test one answer only", found)
	}
}

// TestSolvableChain: cells y₀…yₙ₋₁ each the sum of the two before it
// (yⱼ = yⱼ₋₁ + yⱼ₋₂, a chain of parent = Σ children equations), which
// makes yⱼ = Fⱼ₊₁·y₀ + … with Fibonacci coefficients. With y₁ = y₀ nothing
// is known, so nothing is determined; with y₀ + y₁ known, y₂ is. The float
// elimination solvable used before found y₀ determined, with y₁ = y₀ from
// n = 45 on and with y₀ + y₁ known from n = 48. From n = 47 the
// coefficients pass maxEntry and solvableRat answers.
func TestSolvableChain(t *testing.T) {
	for _, n := range []int{45, 48, 92} {
		for _, tc := range []struct {
			name string
			eq   []int
			want int
		}{
			{"y1=y0", []int{1, 0}, -1},
			{"y0+y1 known", []int{-1, 0, 1}, 2},
		} {
			var eqs [][]int
			for j := n - 1; j >= 2; j-- {
				eqs = append(eqs, []int{j, j - 1, j - 2})
			}
			eqs = append(eqs, tc.eq)
			if d := privacytest.Determined(eqs, n); tc.want < 0 && len(d) > 0 || tc.want >= 0 && (len(d) == 0 || d[0] != tc.want) {
				t.Fatalf("n=%d, %s: privacytest.Determined = %v, want first %d", n, tc.name, d, tc.want)
			}
			if got := solvable(privacytest.Rows(eqs, n), n); got != tc.want {
				t.Errorf("n=%d, %s: solvable = %d, want %d", n, tc.name, got, tc.want)
			}
			if got := firstSolvable(terms(eqs), n); got != tc.want {
				t.Errorf("n=%d, %s: firstSolvable = %d, want %d", n, tc.name, got, tc.want)
			}
			if _, ok := solvableSparse(terms(eqs), n); ok != (n < 47) {
				t.Errorf("n=%d, %s: solvableSparse finished %v", n, tc.name, ok)
			}
			if _, rest := solvableInt64(privacytest.Rows(eqs, n), n); (rest == nil) != (n < 47) {
				t.Errorf("n=%d, %s: solvableInt64 finished %v", n, tc.name, rest == nil)
			}
		}
	}
}

// TestSolvableShuffledChains: TestSolvableChain's chains with their cells
// and equations shuffled and a few more equations, so that solvableInt64
// gives up at different points of its elimination and solvableRat goes on
// from there.
func TestSolvableShuffledChains(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 4))
	gaveUp := 0
	for i := range 100 {
		n := 40 + r.IntN(30)
		perm := r.Perm(n)
		var eqs [][]int
		for j := 2; j < n; j++ {
			eqs = append(eqs, []int{perm[j], perm[j-1], perm[j-2]})
		}
		for range r.IntN(3) {
			eq := []int{-1}
			for range 1 + r.IntN(3) {
				eq = append(eq, r.IntN(n))
			}
			eqs = append(eqs, eq)
		}
		r.Shuffle(len(eqs), func(i, j int) { eqs[i], eqs[j] = eqs[j], eqs[i] })
		want := -1
		if d := privacytest.Determined(eqs, n); len(d) > 0 {
			want = d[0]
		}
		if _, rest := solvableInt64(privacytest.Rows(eqs, n), n); rest != nil {
			gaveUp++
		}
		if got := solvable(privacytest.Rows(eqs, n), n); got != want {
			t.Errorf("case %d: solvable(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
		if got := firstSolvable(terms(eqs), n); got != want {
			t.Errorf("case %d: firstSolvable(%v, %d) = %d, want %d", i, eqs, n, got, want)
		}
	}
	t.Logf("solvableInt64 gave up on %d of 100", gaveUp)
}
