package privacy

import (
	"errors"
	"fmt"
)

// Minimum group sizes: no output cell may describe fewer than K people.
const (
	DefaultMinGroupSize = 5
	// FloorMinGroupSize is the lowest K a configuration may set.
	FloorMinGroupSize = 3
)

// ErrMinGroupSize is returned (wrapped) for a minimum group size below
// FloorMinGroupSize, by NewPolicy and by Decide on a Policy built by hand.
var ErrMinGroupSize = errors.New("min_group_size")

// Policy is the minimum-group-size rule every output passes through.
// Build it with NewPolicy; the zero Policy is refused by Decide.
type Policy struct {
	K int // minimum distinct people behind a shown cell
}

// NewPolicy returns a policy with minimum group size k; k below
// FloorMinGroupSize is refused.
func NewPolicy(k int) (Policy, error) {
	if err := checkK(k); err != nil {
		return Policy{}, err
	}
	return Policy{K: k}, nil
}

func checkK(k int) error {
	if k < FloorMinGroupSize {
		return fmt.Errorf("%w %d is below the floor of %d: a cell built from fewer people lets a reader single one person out; set min_group_size to %d or more (default %d)",
			ErrMinGroupSize, k, FloorMinGroupSize, FloorMinGroupSize, DefaultMinGroupSize)
	}
	return nil
}

// Visible reports whether a cell built from distinct people may be shown.
func (p Policy) Visible(distinct int) bool { return distinct >= p.K }
