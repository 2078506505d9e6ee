package privacy

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/outcome"
)

// Builders for readable fixtures. A unit's or the org's people are the sum
// of its children's unless given: teams here are disjoint, which makes every
// parent = Σ children equation exact, the case a differencing attack needs.

type tb struct{ cells []Cell }

func newOrg(id string) *tb { return &tb{cells: []Cell{{ID: id, Level: outcome.LevelOrg}}} }

// unit adds a unit under the org with teams given as "id:people" pairs.
func (b *tb) unit(id string, teams ...string) *tb {
	b.cells = append(b.cells, Cell{ID: id, Parent: b.cells[0].ID, Level: outcome.LevelUnit})
	u := len(b.cells) - 1
	for _, t := range teams {
		name, n, _ := strings.Cut(t, ":")
		var people int
		fmt.Sscan(n, &people)
		b.cells = append(b.cells, Cell{ID: name, Parent: id, Level: outcome.LevelTeam, People: people})
		b.cells[u].People += people
		b.cells[0].People += people
	}
	return b
}

// people overrides one cell's people (a unit with members outside teams).
func (b *tb) people(id string, n int) *tb {
	for i := range b.cells {
		if b.cells[i].ID == id {
			b.cells[i].People = n
		}
	}
	return b
}

func (b *tb) build() []Cell { return b.cells }

func mustPolicy(t testing.TB, k int) Policy {
	t.Helper()
	p, err := NewPolicy(k, DefaultDominanceP)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hidden returns the hidden cells of a decision map, for comparing with
// a fixture's expectation.
func hidden(d map[string]Decision) map[string]Reason {
	out := make(map[string]Reason)
	for id, dec := range d {
		if !dec.Visible {
			out[id] = dec.Reason
		}
	}
	return out
}

func describe(cells []Cell, d map[string]Decision) string {
	var sb strings.Builder
	for _, c := range cells {
		r := "visible"
		if !d[c.ID].Visible {
			r = string(d[c.ID].Reason)
		}
		dom := ""
		if c.Dominated {
			dom = " dominated"
		}
		fmt.Fprintf(&sb, "  %-5s %-8s parent=%-6q people=%-3d%s %s\n", c.Level, c.ID, c.Parent, c.People, dom, r)
	}
	return sb.String()
}

const (
	bk   = ReasonBelowK
	comp = ReasonComplementary
)

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		k      int
		cells  []Cell
		hidden map[string]Reason // every other cell is visible
		// inexact: a parent has people outside its children, so the
		// parent = Σ children equations the solver checks do not hold.
		inexact bool
	}{
		{
			name: "team of 4 in a unit of big teams: hidden below_k, smallest sibling complementary",
			k:    5,
			cells: newOrg("org").
				unit("u1", "t4:4", "t8:8", "t12:12", "t9:9").
				unit("u2", "t10:10", "t7:7").build(),
			hidden: map[string]Reason{"t4": bk, "t8": comp},
		},
		{
			name: "one large team and one small team: both teams hidden, unit visible",
			k:    5,
			cells: newOrg("org").
				unit("u1", "big:12", "small:2").
				unit("u2", "x:10", "y:11").build(),
			hidden: map[string]Reason{"small": bk, "big": comp},
		},
		{
			name: "two small teams among big ones: both below_k, nothing else hidden",
			k:    5,
			cells: newOrg("org").
				unit("u1", "s3:3", "s4:4", "b10:10", "b11:11").
				unit("u2", "x:10", "y:11").build(),
			hidden: map[string]Reason{"s3": bk, "s4": bk},
		},
		{
			// u1 (4 people) is hidden; org − u2 − u3 − u4 would give it, so
			// u2, the smallest other unit, is hidden. u2 = c + d + g with all
			// three visible would give u2 back, so c is hidden (rule 3). The
			// equations are then org: u1+u2 = known, u1: a+b = u1, u2:
			// u2−c = known: u1 and c are tied together (u1+c is known),
			// neither is known alone, so d and g can stay visible.
			name: "unit below k: complementary unit, then its smallest team (cascade)",
			k:    5,
			cells: newOrg("org").
				unit("u1", "a:2", "b:2").
				unit("u2", "c:5", "d:6", "g:7").
				unit("u3", "e:12", "f:18").
				unit("u4", "h:20", "i:20").build(),
			hidden: map[string]Reason{"u1": bk, "a": bk, "b": bk, "u2": comp, "c": comp},
		},
		{
			name: "complementary unit with a single team hides that team too",
			k:    5,
			cells: newOrg("org").
				unit("u1", "a:3").
				unit("u2", "only:9").
				unit("u3", "d:10", "e:10").build(),
			hidden: map[string]Reason{"u1": bk, "a": bk, "u2": comp, "only": comp},
		},
		{
			name: "complementary unit with two teams: rule 3 hides one, the hidden unit is the second unknown",
			k:    5,
			cells: newOrg("org").
				unit("u1", "a:1", "b:3").
				unit("u2", "c:6", "d:7").
				unit("u3", "e:10", "f:10").build(),
			hidden: map[string]Reason{"u1": bk, "a": bk, "b": bk, "u2": comp, "c": comp},
		},
		{
			name: "ties broken by ID: of two smallest siblings the lower ID is hidden",
			k:    5,
			cells: newOrg("org").
				unit("u1", "t4:4", "tc:8", "tb:8", "td:12").
				unit("u2", "x:10", "y:11").build(),
			hidden: map[string]Reason{"t4": bk, "tb": comp},
		},
		{
			// u − b would be a + 0: the empty team protects nothing.
			name: "a hidden team with nobody in it is no protection (sideways)",
			k:    5,
			cells: newOrg("org").
				unit("u", "a:4", "z:0", "b:10").
				unit("v", "c:10", "d:10").build(),
			hidden: map[string]Reason{"a": bk, "z": bk, "b": comp},
		},
		{
			// u2 = y + 0 would give u2, then org − u2 − u3 gives u1.
			name: "a hidden team with nobody in it is no protection (downward)",
			k:    5,
			cells: newOrg("org").
				unit("u1", "a:3").
				unit("u2", "x:0", "y:12").
				unit("u3", "p:15", "q:15").build(),
			hidden: map[string]Reason{"u1": bk, "a": bk, "x": bk, "u2": comp, "y": comp},
		},
		{
			// The unit has people outside its only team, so it is not the
			// team's value; there is no sibling to pair with anyway.
			name: "single small team under a visible unit with people outside teams",
			k:    5,
			cells: newOrg("org").
				unit("u1", "t:4").people("u1", 15).people("org", 35).
				unit("u2", "x:10", "y:10").build(),
			hidden:  map[string]Reason{"t": bk},
			inexact: true,
		},
		{
			name: "every team below k: units and org hidden too, nothing left to hide",
			k:    5,
			cells: newOrg("org").
				unit("u1", "a:1", "b:1").
				unit("u2", "c:1").build(),
			hidden: map[string]Reason{"org": bk, "u1": bk, "u2": bk, "a": bk, "b": bk, "c": bk},
		},
		{
			name:   "a lone org cell",
			k:      5,
			cells:  []Cell{{ID: "org", Level: outcome.LevelOrg, People: 40}},
			hidden: map[string]Reason{},
		},
		{
			name:   "a lone org cell below k",
			k:      5,
			cells:  []Cell{{ID: "org", Level: outcome.LevelOrg, People: 4}},
			hidden: map[string]Reason{"org": bk},
		},
		{
			name:   "no cells",
			k:      5,
			cells:  nil,
			hidden: map[string]Reason{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := mustPolicy(t, tc.k).Decide(tc.cells)
			if err != nil {
				t.Fatal(err)
			}
			if len(d) != len(tc.cells) {
				t.Fatalf("got %d decisions for %d cells", len(d), len(tc.cells))
			}
			if got := hidden(d); !maps.Equal(got, tc.hidden) {
				t.Errorf("hidden cells:\n got  %v\n want %v\n%s", got, tc.hidden, describe(tc.cells, d))
			}
			checkInvariants(t, tc.k, tc.cells, d)
			if ids := exactlyDerivable(tc.cells, d); !tc.inexact && len(ids) > 0 {
				t.Errorf("hidden cells %v can be solved for from the visible ones\n%s", ids, describe(tc.cells, d))
			}
		})
	}
}

// TestDecideWindows decides a team whose size hovers around k, one window
// at a time: it is visible exactly when it has at least k people and is
// not needed to protect a sibling.
func TestDecideWindows(t *testing.T) {
	windows := []struct {
		week     string
		team     int // people in team "hover"
		sibling  int // people in team "sib"
		want     Reason
		wantSibl Reason
	}{
		{"w1", 4, 9, bk, comp},           // below k; its smallest sibling protects it
		{"w2", 5, 9, "", ""},             // exactly k: shown
		{"w3", 6, 2, comp, bk},           // at least k, but the smallest sibling of a hidden team
		{"w4", 4, 9, bk, comp},           // below k again
		{"w5", 5, 12, "", ""},            // exactly k, next to bigger siblings
		{"w6", 5, 4, comp, bk},           // exactly k and the smallest visible sibling
		{"w7", 6, 6, "", ""},             // both at least k
		{"w8", 4, 4, bk, bk},             // both below k: they protect each other
		{"w9", 0, 12, bk, ReasonVisible}, // nobody logged time; nothing to protect
	}
	p := mustPolicy(t, 5)
	for _, w := range windows {
		t.Run(w.week, func(t *testing.T) {
			cells := newOrg("org").
				unit("u1", fmt.Sprintf("hover:%d", w.team), fmt.Sprintf("sib:%d", w.sibling), "big:15").
				unit("u2", "x:10", "y:11").build()
			d, err := p.Decide(cells)
			if err != nil {
				t.Fatal(err)
			}
			if got := d["hover"]; got.Reason != w.want || got.Visible != (w.want == "") {
				t.Errorf("hover (%d people): got %+v, want reason %q\n%s", w.team, got, w.want, describe(cells, d))
			}
			if got := d["sib"]; got.Reason != w.wantSibl {
				t.Errorf("sib (%d people): got %+v, want reason %q\n%s", w.sibling, got, w.wantSibl, describe(cells, d))
			}
			if vis := d["hover"].Visible; vis != (w.team >= p.K && d["hover"].Reason != comp) {
				t.Errorf("hover visible = %v with %d people and reason %q", vis, w.team, d["hover"].Reason)
			}
			checkInvariants(t, p.K, cells, d)
			if ids := exactlyDerivable(cells, d); len(ids) > 0 {
				t.Errorf("hidden cells %v can be solved for\n%s", ids, describe(cells, d))
			}
		})
	}
}

// TestDecideK decides one tree under the floor, the default and a high k.
func TestDecideK(t *testing.T) {
	cells := newOrg("org").
		unit("u1", "a:2", "b:4", "c:6", "d:11").
		unit("u2", "e:3", "f:9", "g:15").
		unit("u3", "h:7", "i:8").
		unit("u4", "j:8").build()
	tests := []struct {
		name   string
		k      int
		hidden map[string]Reason
	}{
		{"k=3 (the floor)", 3, map[string]Reason{"a": bk, "b": comp}},
		{"k=5 (the default)", 5, map[string]Reason{"a": bk, "b": bk, "e": bk, "f": comp}},
		{"k=10", 10, map[string]Reason{
			"a": bk, "b": bk, "c": bk, "e": bk, "f": bk, "h": bk, "i": bk, "j": bk,
			"u4": bk, "u3": comp, // u3's teams are both hidden already: no rule 3
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := mustPolicy(t, tc.k).Decide(cells)
			if err != nil {
				t.Fatal(err)
			}
			if got := hidden(d); !maps.Equal(got, tc.hidden) {
				t.Errorf("hidden cells:\n got  %v\n want %v\n%s", got, tc.hidden, describe(cells, d))
			}
			checkInvariants(t, tc.k, cells, d)
			if ids := exactlyDerivable(cells, d); len(ids) > 0 {
				t.Errorf("hidden cells %v can be solved for\n%s", ids, describe(cells, d))
			}
		})
	}
}

func TestNewPolicy(t *testing.T) {
	for _, k := range []int{2, 1, 0, -5} {
		t.Run(fmt.Sprintf("k=%d refused", k), func(t *testing.T) {
			_, err := NewPolicy(k, DefaultDominanceP)
			if !errors.Is(err, ErrMinGroupSize) {
				t.Fatalf("NewPolicy(%d) = %v, want an error wrapping ErrMinGroupSize", k, err)
			}
			for _, want := range []string{
				fmt.Sprintf("min_group_size %d", k), // what was wrong
				"below the floor of 3",
				"single one person out",           // why
				"set min_group_size to 3 or more", // what to do
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	for _, k := range []int{3, 5, 10} {
		t.Run(fmt.Sprintf("k=%d accepted", k), func(t *testing.T) {
			p, err := NewPolicy(k, DefaultDominanceP)
			if err != nil || p.K != k {
				t.Fatalf("NewPolicy(%d) = %+v, %v", k, p, err)
			}
			if p.Visible(k-1) || !p.Visible(k) {
				t.Errorf("Visible(%d), Visible(%d) = %v, %v; want false, true", k-1, k, p.Visible(k-1), p.Visible(k))
			}
		})
	}
	t.Run("Decide refuses a policy built by hand below the floor", func(t *testing.T) {
		for _, p := range []Policy{{}, {K: 2}} {
			_, err := p.Decide(newOrg("org").unit("u", "t:1").build())
			if !errors.Is(err, ErrMinGroupSize) || !strings.Contains(err.Error(), "NewPolicy") {
				t.Errorf("Policy{K: %d}.Decide: got %v, want ErrMinGroupSize telling to use NewPolicy", p.K, err)
			}
		}
	})
	for _, tc := range []struct {
		p    float64
		want string
	}{
		{4.9, "dominance_p 4.9 is below the floor of 5"},
		{0, "dominance_p 0 is below the floor of 5"},
		{-10, "dominance_p -10 is below the floor of 5"},
		{100.5, "dominance_p 100.5 is above 100"},
		{math.NaN(), "dominance_p NaN is below the floor"},
	} {
		t.Run(fmt.Sprintf("p=%g refused", tc.p), func(t *testing.T) {
			_, err := NewPolicy(5, tc.p)
			if !errors.Is(err, ErrDominanceP) {
				t.Fatalf("NewPolicy(5, %g) = %v, want an error wrapping ErrDominanceP", tc.p, err)
			}
			for _, want := range []string{tc.want, "set dominance_p between 5 and 100 (default 10)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
	for _, p := range []float64{5, 10, 12.5, 100} {
		if got, err := NewPolicy(5, p); err != nil || got.P != p {
			t.Errorf("NewPolicy(5, %g) = %+v, %v", p, got, err)
		}
	}
	t.Run("a policy built by hand: P 0 is the default, out of range is refused", func(t *testing.T) {
		cells := newOrg("org").unit("u", "t:6").build()
		if _, err := (Policy{K: 5}).Decide(cells); err != nil {
			t.Errorf("Policy{K: 5}.Decide: %v", err)
		}
		if got := (Policy{K: 5}).dominanceP(); got != DefaultDominanceP {
			t.Errorf("Policy{K: 5} has p %g, want the default %g", got, DefaultDominanceP)
		}
		if _, err := (Policy{K: 5, P: 200}).Decide(cells); !errors.Is(err, ErrDominanceP) {
			t.Errorf("Policy{K: 5, P: 200}.Decide: got %v, want ErrDominanceP", err)
		}
	})
}

func TestDecideMalformed(t *testing.T) {
	org := Cell{ID: "org", Level: outcome.LevelOrg, People: 30}
	tests := []struct {
		name  string
		cells []Cell
		want  string
	}{
		{"unknown parent", []Cell{org, {ID: "t", Parent: "nope", Level: outcome.LevelTeam, People: 9}},
			`cell "t" names parent "nope", which is not among the cells`},
		{"duplicate id", []Cell{org, {ID: "u", Parent: "org", Level: outcome.LevelUnit, People: 9}, {ID: "u", Parent: "org", Level: outcome.LevelTeam, People: 9}},
			`cells 1 and 2 both have ID "u"`},
		{"duplicate root id", []Cell{org, org}, `cells 0 and 1 both have ID "org"`},
		{"two roots", []Cell{org, {ID: "org2", Level: outcome.LevelOrg, People: 9}, {ID: "t", Parent: "org2", Level: outcome.LevelTeam, People: 9}},
			`2 roots ("org", "org2")`},
		{"no root: everything in a cycle", []Cell{{ID: "a", Parent: "b", Level: outcome.LevelUnit}, {ID: "b", Parent: "a", Level: outcome.LevelUnit}},
			`no root`},
		{"cycle beside the root", []Cell{org,
			{ID: "u", Parent: "org", Level: outcome.LevelUnit, People: 9},
			{ID: "x", Parent: "y", Level: outcome.LevelUnit, People: 9},
			{ID: "y", Parent: "z", Level: outcome.LevelUnit, People: 9},
			{ID: "z", Parent: "x", Level: outcome.LevelTeam, People: 9},
			{ID: "w", Parent: "z", Level: outcome.LevelTeam, People: 9}},
			`"x" → "y" → "z" → "x"`},
		{"cell is its own parent", []Cell{org, {ID: "t", Parent: "t", Level: outcome.LevelTeam, People: 9}},
			`"t" → "t"`},
		{"empty id", []Cell{org, {Parent: "org", Level: outcome.LevelTeam, People: 9}}, `cell 1 (parent "org") has an empty ID`},
		{"unknown level", []Cell{org, {ID: "t", Parent: "org", Level: "person", People: 9}}, `level "person"`},
		{"negative people", []Cell{org, {ID: "t", Parent: "org", Level: outcome.LevelTeam, People: -1}}, `-1 people`},
	}
	p := mustPolicy(t, 5)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.Decide(tc.cells)
			if !errors.Is(err, ErrMalformedTree) {
				t.Fatalf("got %v, %v; want an error wrapping ErrMalformedTree", d, err)
			}
			if d != nil {
				t.Errorf("got decisions %v with an error", d)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	t.Run("a child with more people than its parent is fine", func(t *testing.T) {
		cells := []Cell{{ID: "org", Level: outcome.LevelOrg, People: 6}, {ID: "u", Parent: "org", Level: outcome.LevelUnit, People: 9}}
		if _, err := p.Decide(cells); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSummarize(t *testing.T) {
	cells := newOrg("org").
		unit("u1", "a:2", "b:2").
		unit("u2", "c:5", "d:6", "g:7").
		unit("u3", "e:12", "f:18").
		unit("u4", "h:20", "i:20").build()
	d, err := mustPolicy(t, 5).Decide(cells)
	if err != nil {
		t.Fatal(err)
	}
	want := map[outcome.Level]Summary{
		outcome.LevelOrg:  {Visible: 1},
		outcome.LevelUnit: {Visible: 2, BelowK: 1, Complementary: 1},
		outcome.LevelTeam: {Visible: 6, BelowK: 2, Complementary: 1},
	}
	if got := Summarize(d, cells); !maps.Equal(got, want) {
		t.Errorf("Summarize:\n got  %+v\n want %+v", got, want)
	}
	delete(d, "h")
	want[outcome.LevelTeam] = Summary{Visible: 5, BelowK: 2, Complementary: 1, Undecided: 1}
	if got := Summarize(d, cells); !maps.Equal(got, want) {
		t.Errorf("Summarize with a cell missing from the decisions:\n got  %+v\n want %+v", got, want)
	}
}

// randomTree builds 1 org, 1-8 units and 1-8 teams in each. With additive,
// people are drawn for teams only and parents are the sums (disjoint teams,
// so every parent = Σ children equation is exact); otherwise every cell's
// people are drawn independently from 0-20 (overlapping teams, people
// outside teams, inconsistent counts).
func randomTree(r *rand.Rand, additive bool) []Cell {
	draw := func() int {
		if r.IntN(2) == 0 {
			return r.IntN(8) // plenty of cells near and below k
		}
		return r.IntN(21)
	}
	cells := []Cell{{ID: "org", Level: outcome.LevelOrg}}
	if !additive {
		cells[0].People = r.IntN(21)
	}
	for u := range 1 + r.IntN(8) {
		uid := fmt.Sprintf("u%d", u)
		cells = append(cells, Cell{ID: uid, Parent: "org", Level: outcome.LevelUnit})
		ui := len(cells) - 1
		if !additive {
			cells[ui].People = r.IntN(21)
		}
		for tm := range 1 + r.IntN(8) {
			n := draw()
			cells = append(cells, Cell{ID: fmt.Sprintf("%s.t%d", uid, tm), Parent: uid, Level: outcome.LevelTeam, People: n})
			if additive {
				cells[ui].People += n
				cells[0].People += n
			}
		}
	}
	return cells
}

// TestDecideProperties checks, on random trees, what Decide promises;
// with dominated, about one cell in six fails the dominance rule.
func TestDecideProperties(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	for _, dominated := range []bool{false, true} {
		for _, additive := range []bool{false, true} {
			for _, k := range []int{3, 5, 10} {
				t.Run(fmt.Sprintf("dominated=%v/additive=%v/k=%d", dominated, additive, k), func(t *testing.T) {
					decideProperties(t, n, k, additive, dominated)
				})
			}
		}
	}
}

// consistentDominance makes a parent with one child that has people
// dominated exactly when that child is, as in an additive tree: the parent
// holds the same contributions. cells are in randomTree's order (every
// parent before its children).
func consistentDominance(cells []Cell) {
	for i := len(cells) - 1; i >= 0; i-- {
		var only, n int
		for j, c := range cells {
			if c.Parent == cells[i].ID && c.People > 0 {
				only, n = j, n+1
			}
		}
		if n == 1 {
			cells[i].Dominated = cells[only].Dominated
		}
	}
}

// decideProperties decides n random trees under k and checks the
// invariants, determinism and (additive trees) non-derivability.
func decideProperties(t *testing.T, n, k int, additive, dominated bool) {
	p := mustPolicy(t, k)
	for seed := range uint64(n) {
		r := rand.New(rand.NewPCG(seed, uint64(k)))
		cells := randomTree(r, additive)
		if dominated {
			for i := range cells {
				cells[i].Dominated = r.IntN(6) == 0
			}
			if additive {
				consistentDominance(cells)
			}
		}
		orig := slices.Clone(cells)
		d, err := p.Decide(cells)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if !slices.Equal(cells, orig) {
			t.Fatalf("seed %d: Decide changed its input", seed)
		}
		if !checkInvariants(t, k, cells, d) {
			t.Fatalf("seed %d: invariants broken\n%s", seed, describe(cells, d))
		}

		// Deterministic and idempotent: the same cells again, and
		// in another order, give the same decisions.
		again, err := p.Decide(cells)
		if err != nil || !maps.Equal(again, d) {
			t.Fatalf("seed %d: second Decide differs: %v", seed, err)
		}
		shuffled := slices.Clone(cells)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if s, err := p.Decide(shuffled); err != nil || !maps.Equal(s, d) {
			t.Fatalf("seed %d: Decide depends on the order of cells: %v\n%s", seed, err, describe(cells, d))
		}

		if additive {
			if ids := exactlyDerivable(cells, d); len(ids) > 0 {
				t.Fatalf("seed %d: hidden cells %v can be solved for from the visible ones\n%s", seed, ids, describe(cells, d))
			}
		}
	}
}

// checkInvariants reports (with t.Errorf) any way d is not a fixpoint of
// the rules, and returns whether all held.
func checkInvariants(t *testing.T, k int, cells []Cell, d map[string]Decision) bool {
	t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
		ok = false
	}
	kids := make(map[string][]Cell)
	for _, c := range cells {
		if c.Parent != "" {
			kids[c.Parent] = append(kids[c.Parent], c)
		}
	}
	for _, c := range cells {
		dc, found := d[c.ID]
		switch {
		case !found:
			fail("%s: no decision", c.ID)
			continue
		case dc.Visible != (dc.Reason == ReasonVisible):
			fail("%s: Visible=%v with reason %q", c.ID, dc.Visible, dc.Reason)
		case c.People < k && dc.Reason != ReasonBelowK:
			fail("%s: %d people < k=%d but decision %+v", c.ID, c.People, k, dc)
		case c.People >= k && dc.Reason == ReasonBelowK:
			fail("%s: %d people >= k=%d but below_k", c.ID, c.People, k)
		case c.People >= k && c.Dominated && dc.Reason != ReasonDominance:
			fail("%s: dominated with %d people >= k=%d but decision %+v", c.ID, c.People, k, dc)
		case !c.Dominated && dc.Reason == ReasonDominance:
			fail("%s: not dominated but decision %+v", c.ID, dc)
		}
		ch := kids[c.ID]
		if len(ch) == 0 {
			continue
		}
		var suppressed, protecting, visible, complementary int
		for _, x := range ch {
			switch {
			case d[x.ID].Visible:
				visible++
			default:
				suppressed++
				if x.People > 0 {
					protecting++
				}
			}
			if d[x.ID].Reason == ReasonComplementary {
				complementary++
			}
		}
		// Rule 2: a visible parent of two or more has 0 or at least 2
		// suppressed children, not counting empty ones (a hidden child
		// with nobody in it is known to add zero: it neither needs nor
		// gives protection). The only exception: no visible child is
		// left to hide, which needs a parent with people outside its
		// children (not additive).
		if dc.Visible && len(ch) >= 2 && protecting == 1 && visible > 0 {
			fail("%s: visible with exactly one suppressed child with people (of %d children, %d suppressed)", c.ID, len(ch), suppressed)
		}
		if !dc.Visible && protecting == 0 && visible > 0 {
			fail("%s: hidden but derivable from its children (%d visible, none hidden with people)", c.ID, visible)
		}
		if !dc.Visible && suppressed == 0 {
			fail("%s: hidden with all %d children visible", c.ID, len(ch))
		}
		if complementary > 1 {
			fail("%s: %d children hidden as complementary; one is enough", c.ID, complementary)
		}
	}
	return ok
}

// exactlyDerivable returns the hidden cells with people whose value a
// reader can solve for from the visible cells, when the metric is additive
// (every parent = Σ children exactly) and an empty hidden cell is known to
// be zero. It solves the linear system independently of Decide's rules:
// unknowns are the hidden cells, equations are parent − Σ children = 0,
// and a hidden cell is derivable when its unit vector lies in the row space.
// The coefficient matrix is a directed incidence matrix, which is totally
// unimodular, so elimination modulo a prime gives the rational rank.
func exactlyDerivable(cells []Cell, d map[string]Decision) []string {
	const mod = 1_000_000_007
	col := make(map[string]int)
	var vars []string
	for _, c := range cells {
		if !d[c.ID].Visible && c.People > 0 {
			col[c.ID] = len(vars)
			vars = append(vars, c.ID)
		}
	}
	if len(vars) == 0 {
		return nil
	}
	rows := make(map[string][]int64) // one equation per parent
	for _, c := range cells {
		if c.Parent == "" {
			continue
		}
		row, ok := rows[c.Parent]
		if !ok {
			row = make([]int64, len(vars))
			if j, isVar := col[c.Parent]; isVar {
				row[j] = 1
			}
			rows[c.Parent] = row
		}
		if j, isVar := col[c.ID]; isVar {
			row[j] = (row[j] + mod - 1) % mod
		}
	}
	var m [][]int64
	for _, id := range slices.Sorted(maps.Keys(rows)) {
		m = append(m, rows[id])
	}
	inv := func(a int64) int64 { // a^(mod-2)
		res, b, e := int64(1), a%mod, int64(mod-2)
		for e > 0 {
			if e&1 == 1 {
				res = res * b % mod
			}
			b = b * b % mod
			e >>= 1
		}
		return res
	}
	// Reduced row echelon form.
	var pivots []int
	r := 0
	for c := 0; c < len(vars) && r < len(m); c++ {
		p := -1
		for i := r; i < len(m); i++ {
			if m[i][c] != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		m[r], m[p] = m[p], m[r]
		s := inv(m[r][c])
		for j := range m[r] {
			m[r][j] = m[r][j] * s % mod
		}
		for i := range m {
			if i != r && m[i][c] != 0 {
				f := m[i][c]
				for j := range m[i] {
					m[i][j] = ((m[i][j]-f*m[r][j])%mod + mod) % mod
				}
			}
		}
		pivots = append(pivots, c)
		r++
	}
	var out []string
	for x, id := range vars {
		v := make([]int64, len(vars))
		v[x] = 1
		for i, c := range pivots {
			if f := v[c]; f != 0 {
				for j := range v {
					v[j] = ((v[j]-f*m[i][j])%mod + mod) % mod
				}
			}
		}
		if !slices.ContainsFunc(v, func(a int64) bool { return a != 0 }) {
			out = append(out, id)
		}
	}
	return out
}

// TestExactlyDerivable checks the checker: it must catch what the rules
// prevent.
func TestExactlyDerivable(t *testing.T) {
	cells := newOrg("org").unit("u", "a:4", "b:8", "c:9").unit("v", "x:10", "y:10").build()
	vis := func(hiddenIDs ...string) map[string]Decision {
		d := make(map[string]Decision)
		for _, c := range cells {
			d[c.ID] = Decision{Visible: true}
		}
		for _, id := range hiddenIDs {
			d[id] = Decision{Reason: ReasonBelowK}
		}
		return d
	}
	tests := []struct {
		hidden []string
		want   []string
	}{
		{[]string{"a"}, []string{"a"}},                // u − b − c
		{[]string{"a", "b"}, nil},                     // a + b known only
		{[]string{"u", "a"}, []string{"u", "a"}},      // org − v gives u, then a
		{[]string{"u", "a", "v", "x"}, nil},           // u + v known, u − a, v − x known
		{[]string{"u", "a", "b", "c"}, []string{"u"}}, // org − v
		{[]string{"u", "a", "b", "v", "x", "y"}, nil}, //
	}
	for _, tc := range tests {
		if got := exactlyDerivable(cells, vis(tc.hidden...)); !slices.Equal(got, tc.want) {
			t.Errorf("hidden %v: derivable %v, want %v", tc.hidden, got, tc.want)
		}
	}
}

// BenchmarkDecide decides 2,000 teams in 100 units of one org.
func BenchmarkDecide(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	cells := []Cell{{ID: "org", Level: outcome.LevelOrg}}
	for u := range 100 {
		uid := fmt.Sprintf("unit-%03d", u)
		cells = append(cells, Cell{ID: uid, Parent: "org", Level: outcome.LevelUnit})
		ui := len(cells) - 1
		for tm := range 20 {
			n := r.IntN(21)
			cells = append(cells, Cell{ID: fmt.Sprintf("%s/team-%02d", uid, tm), Parent: uid, Level: outcome.LevelTeam, People: n})
			cells[ui].People += n
			cells[0].People += n
		}
	}
	p := mustPolicy(b, DefaultMinGroupSize)
	d, err := p.Decide(cells)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Decide(cells); err != nil {
			b.Fatal(err)
		}
	}
	s := Summarize(d, cells)[outcome.LevelTeam]
	b.ReportMetric(float64(s.BelowK), "teams_below_k")
	b.ReportMetric(float64(s.Complementary), "teams_complementary")
}
