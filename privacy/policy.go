package privacy

import "fmt"

// Minimum group sizes: no output cell may describe fewer than K people.
const (
	DefaultMinGroupSize = 5
	// FloorMinGroupSize is the lowest K a configuration may set.
	FloorMinGroupSize = 3
)

// Policy is the minimum-group-size rule every output passes through.
type Policy struct {
	K int // minimum distinct people behind a shown cell
}

// NewPolicy returns a policy with minimum group size k; k below
// FloorMinGroupSize is refused.
func NewPolicy(k int) (Policy, error) {
	if k < FloorMinGroupSize {
		return Policy{}, fmt.Errorf("min_group_size %d is below the floor of %d: a smaller group would let readers single people out; use %d or more", k, FloorMinGroupSize, DefaultMinGroupSize)
	}
	return Policy{K: k}, nil
}

// Visible reports whether a cell built from distinct people may be shown.
func (p Policy) Visible(distinct int) bool { return distinct >= p.K }
