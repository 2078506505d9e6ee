package agreements

import (
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/privacy"
)

// Unit is a unit of the file, with its teams in file order.
type Unit struct {
	ID   string
	Name string // display name; the id when the file gives none
	// Teams are the unit's team ids in file order.
	Teams []string
}

// Org is a loaded teams file: the privacy policy (minimum group size,
// dominance rule, contribution floors), the units and every team's
// resolved Agreement. It is immutable once loaded and safe for
// concurrent use; reload by building a new one (see Holder).
type Org struct {
	source   string // file name; "" for Default
	k        int
	policy   privacy.Policy
	floors   privacy.Floors
	defaults Agreement // built-in + org defaults: what an unlisted team gets
	units    []Unit
	teams    []Agreement
	index    map[string]int // team id → teams index
}

// Default returns the agreements in force without a file: minimum group
// size privacy.DefaultMinGroupSize, dominance P privacy.DefaultDominanceP,
// privacy.DefaultFloors and the built-in defaults for every team, each in
// unit UnassignedUnit.
func Default() *Org {
	p, err := privacy.NewPolicy(privacy.DefaultMinGroupSize, privacy.DefaultDominanceP)
	if err != nil {
		panic("agreements: the default minimum group size is refused: " + err.Error())
	}
	return &Org{k: p.K, policy: p, floors: privacy.DefaultFloors(), defaults: builtin(), index: map[string]int{}}
}

// MinGroupSize returns k: no output cell may describe fewer people.
func (o *Org) MinGroupSize() int { return o.k }

// Policy returns the privacy policy: MinGroupSize and the dominance rule's
// P (dominance_p).
func (o *Org) Policy() privacy.Policy { return o.policy }

// Floors returns the contribution floors (min_contribution): what a
// person must contribute to a family in a cell's period to count toward
// MinGroupSize.
func (o *Org) Floors() privacy.Floors { return o.floors }

// Source returns the file the Org was loaded from, "" for Default.
func (o *Org) Source() string { return o.source }

// lookup returns the team's agreement, or the org defaults for a team the
// file does not list (with Team set by the caller).
func (o *Org) lookup(team string) (*Agreement, bool) {
	if i, ok := o.index[team]; ok {
		return &o.teams[i], true
	}
	return &o.defaults, false
}

// Team returns the team's resolved agreement. A team the file does not list
// gets the org defaults (built-in defaults for what they leave out), unit
// UnassignedUnit and Listed false.
func (o *Org) Team(id string) Agreement {
	a, ok := o.lookup(id)
	out := *a
	if !ok {
		out.Team, out.TeamName = id, id
	}
	return out
}

// Location returns the team's time zone; never nil.
func (o *Org) Location(team string) *time.Location {
	a, _ := o.lookup(team)
	return a.loc()
}

// Units returns the file's units in file order (a copy). It never includes
// UnassignedUnit.
func (o *Org) Units() []Unit {
	out := make([]Unit, len(o.units))
	for i, u := range o.units {
		out[i] = Unit{ID: u.ID, Name: u.Name, Teams: slices.Clone(u.Teams)}
	}
	return out
}

// Teams returns the agreements of the listed teams in file order (a copy).
func (o *Org) Teams() []Agreement { return slices.Clone(o.teams) }

// UnitOf returns the team's unit id, UnassignedUnit for a team the file
// does not list.
func (o *Org) UnitOf(team string) string {
	a, _ := o.lookup(team)
	return a.Unit
}

// IsWorkingDay reports whether day (days since 1970-01-01, counted in the
// team's zone) is one of the team's working days.
func (o *Org) IsWorkingDay(team string, day int32) bool {
	a, _ := o.lookup(team)
	return a.IsWorkingDay(day)
}

// WorkingSeconds returns how many seconds of [from, to) fall on the team's
// working days, whole calendar days in the team's zone (DST-correct); 0
// when to is not after from.
func (o *Org) WorkingSeconds(team string, from, to time.Time) float64 {
	a, _ := o.lookup(team)
	return a.workingSeconds(from, to)
}
