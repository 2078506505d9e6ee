package privacy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/outcome"
)

// Minimum group sizes: no output cell may describe fewer than K people.
const (
	DefaultMinGroupSize = 5
	// FloorMinGroupSize is the lowest K a configuration may set.
	FloorMinGroupSize = 3
)

// The dominance (p %) rule: a cell is sensitive when the total minus its
// two largest contributions is under P % of the largest, because the
// second-largest contributor, who knows her own part, can then estimate
// the largest to within P %.
const (
	// DefaultDominanceP is P when the teams file sets none. Default: 10
	DefaultDominanceP = 10.0
	// FloorDominanceP is the lowest P a configuration may set: below it
	// the rule fires only when everyone else together holds less than a
	// twentieth of the largest part, and the estimate it allows is as good
	// as exact.
	FloorDominanceP = 5.0
	// MaxDominanceP is the highest P a configuration may set.
	MaxDominanceP = 100.0
)

// ErrMinGroupSize is returned (wrapped) for a minimum group size below
// FloorMinGroupSize, by NewPolicy and by Decide on a Policy built by hand.
var ErrMinGroupSize = errors.New("min_group_size")

// ErrDominanceP is returned (wrapped) for a dominance P outside
// [FloorDominanceP, MaxDominanceP], by NewPolicy and by Decide on a Policy
// built by hand.
var ErrDominanceP = errors.New("dominance_p")

// Policy is the disclosure rule every output passes through: the minimum
// group size and the dominance rule. Build it with NewPolicy; the zero
// Policy is refused by Decide.
type Policy struct {
	K int // minimum distinct contributors behind a shown cell
	// P is the dominance rule's percentage. 0 stands for DefaultDominanceP,
	// so that a Policy written as a literal with K alone keeps the rule on;
	// NewPolicy and Decide refuse any other value outside
	// [FloorDominanceP, MaxDominanceP].
	P float64
}

// NewPolicy returns a policy with minimum group size k and dominance
// percentage p; k below FloorMinGroupSize and p outside
// [FloorDominanceP, MaxDominanceP] are refused.
func NewPolicy(k int, p float64) (Policy, error) {
	if err := checkK(k); err != nil {
		return Policy{}, err
	}
	if err := CheckDominanceP(p); err != nil {
		return Policy{}, err
	}
	return Policy{K: k, P: p}, nil
}

func checkK(k int) error {
	if k < FloorMinGroupSize {
		return fmt.Errorf("%w %d is below the floor of %d: a cell built from fewer people lets a reader single one person out; set min_group_size to %d or more (default %d)",
			ErrMinGroupSize, k, FloorMinGroupSize, FloorMinGroupSize, DefaultMinGroupSize)
	}
	return nil
}

// CheckDominanceP returns an error wrapping ErrDominanceP, saying what to
// do, for a p outside [FloorDominanceP, MaxDominanceP].
func CheckDominanceP(p float64) error {
	switch {
	case p != p || p < FloorDominanceP: // p != p: NaN
		return fmt.Errorf("%w %g is below the floor of %g: a rule that lets the second-largest contributor estimate the largest to within less than %g %% protects nobody; set dominance_p between %g and %g (default %g)",
			ErrDominanceP, p, FloorDominanceP, FloorDominanceP, FloorDominanceP, MaxDominanceP, DefaultDominanceP)
	case p > MaxDominanceP:
		return fmt.Errorf("%w %g is above %g: it is a percentage of the largest contribution; set dominance_p between %g and %g (default %g)",
			ErrDominanceP, p, MaxDominanceP, FloorDominanceP, MaxDominanceP, DefaultDominanceP)
	}
	return nil
}

// check validates a Policy however it was built.
func (p Policy) check() error {
	if err := checkK(p.K); err != nil {
		return err
	}
	if p.P != 0 {
		return CheckDominanceP(p.P)
	}
	return nil
}

// dominanceP is P, or DefaultDominanceP for 0.
func (p Policy) dominanceP() float64 {
	if p.P == 0 {
		return DefaultDominanceP
	}
	return p.P
}

// Visible reports whether a cell built from distinct people may be shown.
func (p Policy) Visible(distinct int) bool { return distinct >= p.K }

// Sensitive reports whether m fails the p % rule: its total minus its two
// largest contributions is under P % of the largest, so the second-largest
// contributor could estimate the largest to within P %. One contributor
// (Top2 and the rest 0) is always sensitive, two always are; a magnitude
// with nothing in it (Total or Top1 0) is not.
func (p Policy) Sensitive(m outcome.Magnitude) bool {
	if m.Total <= 0 || m.Top1 <= 0 {
		return false
	}
	return m.Total-m.Top1-m.Top2 < p.dominanceP()/100*m.Top1
}

// Dominated reports whether any of ms is Sensitive.
func (p Policy) Dominated(ms []outcome.Magnitude) bool {
	for _, m := range ms {
		if p.Sensitive(m) {
			return true
		}
	}
	return false
}

// DominatedCell reports whether the p % rule fails at c on its family's
// volume (outcome.Family.Volume: then every metric of the family is
// dominated there) or on one of its metric's own parts
// (outcome.Metric.Parts, both parts of a ratio: then that metric only, so
// one person's overwork days withhold the team's overwork signal, not its
// focus share). A cell without magnitudes is not dominated.
func (p Policy) DominatedCell(c outcome.Cell) bool {
	m, ok := outcome.ByID(c.Metric)
	if !ok {
		return false
	}
	volume := m.Family.Volume()
	for _, mag := range c.Magnitudes {
		if (slices.Contains(m.Parts, mag.Name) || slices.Contains(volume, mag.Name)) && p.Sensitive(mag) {
			return true
		}
	}
	return false
}

// Floors are the least a person must contribute to a metric family in a
// cell's period (a week, or a day for daily cells) to count toward the
// minimum group size. A person below every floor is not a contributor:
// one event, or a minute of time, does not make a cell describe one more
// person.
type Floors struct {
	// FlowTasks is the tasks a person started plus the tasks they
	// completed (a task started and completed in the period counts
	// twice). Default: 2
	FlowTasks int
	// TimeLogged is the time a person logged. Default: 1h
	TimeLogged time.Duration
	// AsyncRequests is the requests a person opened plus the requests they
	// answered. Default: 2
	AsyncRequests int
}

// The default contribution floors.
const (
	DefaultFloorFlowTasks     = 2
	DefaultFloorTimeLogged    = time.Hour
	DefaultFloorAsyncRequests = 2
	// MaxFloorTimeLogged is the highest time floor: the floors apply to
	// daily cells too, and no one logs more than a day in a day.
	MaxFloorTimeLogged = 24 * time.Hour
	// MaxFloorEvents is the highest flow or async floor.
	MaxFloorEvents = 1000
)

// DefaultFloors returns the default contribution floors.
func DefaultFloors() Floors {
	return Floors{FlowTasks: DefaultFloorFlowTasks, TimeLogged: DefaultFloorTimeLogged, AsyncRequests: DefaultFloorAsyncRequests}
}
