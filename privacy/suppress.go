package privacy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shoal-analytics/shoal/outcome"
)

// Cell is one output cell of one metric in one window: a node of the tree
// org → units → teams. People is the number of DISTINCT people behind the
// cell's value for that metric who contributed at least the family's
// floor (for a time metric, the people who logged enough time), or 1 for a
// cell that holds only contributions below the floors; 0 means the cell
// is empty (a known zero). The caller computes it per metric, and Decide
// trusts it. Dominated says the cell failed the dominance rule
// (Policy.Dominated on its magnitudes).
type Cell struct {
	ID        string
	Parent    string // "" for the root, the one cell without a parent
	Level     outcome.Level
	People    int
	Dominated bool
}

// Reason says why a cell is hidden.
type Reason string

// The reasons of a Decision.
const (
	// ReasonVisible: the cell may be shown.
	ReasonVisible Reason = ""
	// ReasonBelowK: fewer than K people are behind the cell. Its data still
	// counts in its parent's value; the cell itself is "rolled up".
	ReasonBelowK Reason = "below_k"
	// ReasonComplementary: the cell has K or more people but is hidden so
	// that a below-K or dominance cell cannot be computed by subtraction.
	ReasonComplementary Reason = "complementary"
	// ReasonFewSamples: an order statistic (a percentile) over fewer values
	// than its metric's MinSamples. Over one or two values a percentile is
	// those values; quantiles are not sums, so complementary suppression
	// cannot protect them. Only the percentile is withheld, not its family.
	ReasonFewSamples Reason = "few_samples"
	// ReasonDominance: the cell has K or more contributors, but one or two
	// of them hold nearly all of one of its metric's parts (the p % rule,
	// outcome.Metric.Parts): the second-largest contributor could estimate
	// the largest's part from the total. Like below_k, its data still
	// counts in its parent's value, and complementary suppression protects
	// it; unlike below_k it withholds that metric only.
	ReasonDominance Reason = "dominance"
)

// WholeFamily reports whether a cell withheld for r stands for its whole
// metric family at its position: below_k decides on a family's
// contributors, so every metric of the family is withheld together, and
// complementary and temporal cells are, in the common case, withheld for
// such cells (a complementary cell protecting a dominance cell is withheld
// in that metric only, and is still reported as its family's). A cell
// withheld for dominance (one metric's parts fail the p % rule), a
// weekly-only snapshot or a percentile over too few values is withheld on
// its own, and the family's other metrics stay shown.
func (r Reason) WholeFamily() bool {
	switch r {
	case ReasonBelowK, ReasonComplementary, ReasonTemporal:
		return true
	}
	return false
}

// Decision is the verdict for one cell.
type Decision struct {
	Visible bool
	Reason  Reason // ReasonVisible exactly when Visible
}

// ErrMalformedTree is returned (wrapped, with the offending cell) when the
// cells given to Decide are not one tree.
var ErrMalformedTree = errors.New("malformed cell tree")

// Decide is the one suppression policy of Shoal: every output cell (a
// Prometheus series, a SQL row, a report cell) is shown only if Decide says
// so. Give it every cell of ONE metric in ONE window, as one tree; it
// returns a Decision for every cell ID. Cells hidden here are not removed
// from the data: their contributions stay in their ancestors' values, so
// org totals stay whole.
//
// The rules treat every metric as additive (a parent's value is the sum of
// its children's), because many are (hours logged, tasks done) and that is
// the case an attacker exploits: for each parent, parent = Σ children is
// an equation, and a hidden cell must never be the only unknown in one.
//
//  1. below_k. A cell with People < K is hidden: it describes too few people
//     to stop a reader who knows the group from singling one person out.
//     dominance. Otherwise a Dominated cell is hidden: one or two people
//     hold nearly all of it. Both are decided before rules 2 and 3, so
//     those protect a dominance cell as they protect a below_k one.
//
//  2. complementary, sideways. If a VISIBLE parent has exactly one hidden
//     child, parent − Σ visible siblings is that child's value (a
//     differencing attack). The visible sibling with the fewest people is
//     hidden too, so the parent's equation has two unknowns. A parent with
//     a single child is left alone: a child below K under a parent at or
//     above K means the parent holds people outside the child, so the
//     parent is not the child's value (and a visible parent over a single
//     dominated child holds enough of other people's contributions to
//     pass the p % rule itself).
//
//  3. complementary, downward. A hidden cell whose children are all visible
//     is just Σ children, so hiding it hides nothing: a below_k unit would
//     be readable anyway, and a complementary unit would not protect the
//     sibling it was hidden for. Its child with the fewest people is hidden
//     too. This includes a hidden cell with one child; the hidden child
//     then repeats rule 3 one level down.
//
// A hidden cell with People == 0 does not count as protection in rules 2
// and 3: its contribution to an additive value is known to be zero (a
// team with no activity that week is easy to guess), so "parent −
// visible siblings" would still be the other hidden child. (A cell whose
// contributions are all below the floors is no known zero: PolicyCells
// gives it People 1.) Ties are broken
// by fewer people first, then by ID, so the result depends only on the set
// of cells, not on their order.
//
// The rules hide siblings (same level) and children (one level down), never
// a parent, so deciding each parent's group of children once, from the root
// down, reaches the fixpoint of rules 1-3 in one pass: a cell's status is
// final before its children's group is looked at. (Going top-down also
// avoids hiding a second child of a parent that its own parent's group is
// about to hide: a hidden parent with one hidden child already has two
// unknowns in its equation.) On a consistent tree (a parent's people are
// its children's people, and a parent with a single child is Dominated
// exactly when that child is, as it holds the same contributions) this
// leaves every equation with zero or at least two unknowns, and in a
// tree that is enough: no hidden cell's value can be solved for exactly
// from the visible cells of that metric and window. The tests check this
// with exact linear algebra on random trees.
//
// What this does NOT protect against; callers must keep these in mind:
//   - Bounds. For a non-negative metric, parent − visible siblings is the
//     sum of the hidden cells, which is an upper bound on each of them.
//     With two hidden cells of very different size the bound can be tight.
//   - Other windows. Each window is decided on its own, so a team whose
//     size hovers around K is shown some weeks and hidden others. Publishing
//     overlapping windows of the same metric (a 4-week total and its weekly
//     values) lets a reader subtract the visible weeks from the total and
//     recover a hidden week. Outputs must use non-overlapping windows, or
//     also hide a longer window's cell wherever a window inside it is hidden.
//   - Other metrics. Each metric's tree is decided separately, with that
//     metric's contributors, so its hidden cells are not recovered from a
//     different metric's cells. But metrics that are arithmetic of each
//     other are not independent: a ratio (average cycle time) is not
//     additive by itself, yet ratio × its published denominator (tasks done)
//     is its additive numerator. A derived metric must be decided with the
//     same cells hidden as the metrics it is derived from.
//   - Other hierarchies. A person in several teams is counted in each; a
//     second tree over the same data (teams grouped by location, say)
//     gives different equations, and the two sets of equations together
//     may solve a cell that each alone protects.
//   - Composition over time. A person joining or leaving changes the org
//     total by their own contribution; week-on-week differences of a
//     visible cell describe whoever came or went.
//   - The pattern itself. A cell hidden below_k tells the reader that
//     fewer than K people contributed to that metric there.
//
// Decide returns an error wrapping ErrMalformedTree when the cells are not
// one tree (an empty ID, an unknown level, negative People, a duplicate ID,
// an unknown parent, no root or more than one root, a cycle), an error
// wrapping ErrMinGroupSize for a Policy with K below FloorMinGroupSize and
// one wrapping ErrDominanceP for a P outside its range.
// Decide does not require a child to have no more people than its parent:
// people can belong to several teams. No cells give an empty map.
func (p Policy) Decide(cells []Cell) (map[string]Decision, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("policy: %w (build the policy with NewPolicy)", err)
	}
	t, err := newTree(cells)
	if err != nil {
		return nil, err
	}

	reason := make([]Reason, len(cells))
	for i, c := range cells {
		switch {
		case !p.Visible(c.People):
			reason[i] = ReasonBelowK // rule 1
		case c.Dominated:
			reason[i] = ReasonDominance
		}
	}
	for _, i := range t.order { // root first: a parent's status is final
		kids := t.children(i)
		if len(kids) == 0 {
			continue
		}
		protecting := 0 // hidden children that carry someone's data
		for _, c := range kids {
			if reason[c] != ReasonVisible && cells[c].People > 0 {
				protecting++
			}
		}
		var need bool
		if reason[i] == ReasonVisible {
			need = protecting == 1 && len(kids) >= 2 // rule 2
		} else {
			need = protecting == 0 // rule 3
		}
		if !need {
			continue
		}
		if c := smallestVisible(cells, reason, kids); c >= 0 {
			reason[c] = ReasonComplementary
		}
	}

	out := make(map[string]Decision, len(cells))
	for i, c := range cells {
		out[c.ID] = Decision{Visible: reason[i] == ReasonVisible, Reason: reason[i]}
	}
	return out, nil
}

// smallestVisible returns the visible cell among kids with the fewest
// people, ties by ID, or -1 if none is visible.
func smallestVisible(cells []Cell, reason []Reason, kids []int32) int32 {
	best := int32(-1)
	for _, c := range kids {
		if reason[c] != ReasonVisible {
			continue
		}
		if best < 0 || cells[c].People < cells[best].People ||
			cells[c].People == cells[best].People && cells[c].ID < cells[best].ID {
			best = c
		}
	}
	return best
}

// tree is the validated shape of a []Cell: children in one flat slice
// (kids[start[i]:start[i+1]] are cell i's) and the cells in breadth-first
// order from the root.
type tree struct {
	start []int32
	kids  []int32
	order []int32
}

func (t *tree) children(i int32) []int32 { return t.kids[t.start[i]:t.start[i+1]] }

func newTree(cells []Cell) (*tree, error) {
	n := len(cells)
	index := make(map[string]int32, n)
	for i, c := range cells {
		switch {
		case c.ID == "":
			return nil, fmt.Errorf("%w: cell %d (parent %q) has an empty ID; give every cell a unique ID", ErrMalformedTree, i, c.Parent)
		case c.Level != outcome.LevelOrg && c.Level != outcome.LevelUnit && c.Level != outcome.LevelTeam:
			return nil, fmt.Errorf("%w: cell %q has level %q; use %q, %q or %q", ErrMalformedTree, c.ID, c.Level, outcome.LevelOrg, outcome.LevelUnit, outcome.LevelTeam)
		case c.People < 0:
			return nil, fmt.Errorf("%w: cell %q has %d people; a count of distinct people cannot be negative", ErrMalformedTree, c.ID, c.People)
		}
		if j, dup := index[c.ID]; dup {
			return nil, fmt.Errorf("%w: cells %d and %d both have ID %q; IDs must be unique within a tree", ErrMalformedTree, j, i, c.ID)
		}
		index[c.ID] = int32(i)
	}

	parent := make([]int32, n)
	start := make([]int32, n+1)
	var roots []int32
	for i, c := range cells {
		if c.Parent == "" {
			parent[i] = -1
			roots = append(roots, int32(i))
			continue
		}
		j, ok := index[c.Parent]
		if !ok {
			return nil, fmt.Errorf("%w: cell %q names parent %q, which is not among the cells; pass the parent too, or give the root an empty Parent", ErrMalformedTree, c.ID, c.Parent)
		}
		parent[i] = j
		start[j+1]++
	}
	if n > 0 && len(roots) == 0 {
		return nil, fmt.Errorf("%w: no root (a cell with an empty Parent): the parents form a cycle (%s)", ErrMalformedTree, cycleFrom(cells, parent, 0))
	}
	if len(roots) > 1 {
		ids := make([]string, 0, 3)
		for _, r := range roots[:min(len(roots), 3)] {
			ids = append(ids, fmt.Sprintf("%q", cells[r].ID))
		}
		return nil, fmt.Errorf("%w: %d roots (%s): exactly one cell, the org, has an empty Parent; decide each org's tree separately", ErrMalformedTree, len(roots), strings.Join(ids, ", "))
	}

	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	kids := make([]int32, n)
	fill := make([]int32, n)
	copy(fill, start[:n])
	for i, p := range parent {
		if p >= 0 {
			kids[fill[p]] = int32(i)
			fill[p]++
		}
	}

	t := &tree{start: start, kids: kids, order: make([]int32, 0, n)}
	if n == 0 {
		return t, nil
	}
	t.order = append(t.order, roots[0])
	for q := 0; q < len(t.order); q++ {
		t.order = append(t.order, t.children(t.order[q])...)
	}
	if len(t.order) < n {
		seen := make([]bool, n)
		for _, i := range t.order {
			seen[i] = true
		}
		for i := range seen {
			if !seen[i] {
				return nil, fmt.Errorf("%w: cell %q does not lead up to the root %q: the parents form a cycle (%s)", ErrMalformedTree, cells[i].ID, cells[roots[0]].ID, cycleFrom(cells, parent, int32(i)))
			}
		}
	}
	return t, nil
}

// cycleFrom follows parents from cell i until one repeats and describes
// the cycle it found, e.g. `"a" → "b" → "a"`. Every cell not reachable from
// the root (or every cell, with no root) leads into such a cycle.
func cycleFrom(cells []Cell, parent []int32, i int32) string {
	seen := make(map[int32]bool)
	for !seen[i] {
		seen[i] = true
		i = parent[i]
	}
	ids := []string{fmt.Sprintf("%q", cells[i].ID)}
	for j := parent[i]; ; j = parent[j] {
		ids = append(ids, fmt.Sprintf("%q", cells[j].ID))
		if j == i || len(ids) > 8 {
			break
		}
	}
	if ids[len(ids)-1] != ids[0] {
		ids = append(ids, "…")
	}
	return strings.Join(ids, " → ")
}

// Summary counts the cells of one level by decision.
type Summary struct {
	Visible       int
	BelowK        int // hidden and rolled up into the parent
	Dominance     int // hidden: one or two people hold nearly all of it
	Complementary int // hidden to protect a below-K or dominance cell
	// Undecided counts cells with no decision in the map (or one Decide
	// never returns): a caller bug. Such a cell must not be shown.
	Undecided int
}

// Summarize counts the cells of each level by their decision, for report
// footers ("3 teams rolled up") and for the suppression metrics.
func Summarize(decisions map[string]Decision, cells []Cell) map[outcome.Level]Summary {
	out := make(map[outcome.Level]Summary, 3)
	for _, c := range cells {
		s := out[c.Level]
		d, ok := decisions[c.ID]
		switch {
		case !ok:
			s.Undecided++
		case d.Visible && d.Reason == ReasonVisible:
			s.Visible++
		case !d.Visible && d.Reason == ReasonBelowK:
			s.BelowK++
		case !d.Visible && d.Reason == ReasonDominance:
			s.Dominance++
		case !d.Visible && d.Reason == ReasonComplementary:
			s.Complementary++
		default:
			s.Undecided++
		}
		out[c.Level] = s
	}
	return out
}
