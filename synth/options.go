package synth

import (
	"errors"
	"flag"
	"fmt"
	"time"
)

// ErrOptions is returned (wrapped) by Options.Validate.
var ErrOptions = errors.New("synth options")

// Options shape a synthetic organisation and its event stream. The zero
// value of every field means "default"; call WithDefaults to see them.
type Options struct {
	// Seed selects the organisation and its activity. Same Seed and End,
	// same bytes. Default: 0 (a valid seed).
	Seed int64 `yaml:"seed"`
	// Teams is the number of teams. Default: 30.
	Teams int `yaml:"teams"`
	// Units is the number of units (parents of teams), at most Teams.
	// Default: 6, or Teams if fewer.
	Units int `yaml:"units"`
	// People is the sum of team sizes; each team has 2..15 people, so it
	// must lie within [2*Teams, 15*Teams]. The designed small and large
	// teams fix a few sizes, so near those bounds the actual sum can
	// differ slightly. Default: 250 (Teams*250/30 for other team counts).
	People int `yaml:"people"`
	// Weeks is the length of the stream: events span [End-Weeks*7d, End).
	// Default: 12.
	Weeks int `yaml:"weeks"`
	// End is the exclusive end of event time. Default: now, truncated to
	// the hour, in UTC (so set it for reproducible output).
	End time.Time `yaml:"end"`
	// BadRate is the share (per valid event) of extra malformed or
	// forbidden events, each with exactly one fault. Default: 0.01.
	// A negative value means none.
	BadRate float64 `yaml:"bad_rate"`
	// DuplicateRate is the share of valid events re-sent with identical
	// source, id and body within an hour. Default: 0.005. Negative: none.
	DuplicateRate float64 `yaml:"duplicate_rate"`
	// LateRate is the share of valid events published out of time order,
	// between 1 hour and 10 days after their time. Default: 0.02.
	// Negative: none.
	LateRate float64 `yaml:"late_rate"`
}

// RegisterFlags registers the options as flags named prefix+"seed",
// prefix+"teams", ... on fs, with o's current values as defaults. Zero
// values mean the documented defaults, as in WithDefaults.
func (o *Options) RegisterFlags(prefix string, fs *flag.FlagSet) {
	fs.Int64Var(&o.Seed, prefix+"seed", o.Seed, "random seed of the synthetic organisation and its events")
	fs.IntVar(&o.Teams, prefix+"teams", o.Teams, "number of teams (0: 30)")
	fs.IntVar(&o.Units, prefix+"units", o.Units, "number of units, at most teams (0: 6)")
	fs.IntVar(&o.People, prefix+"people", o.People, "people in all teams, 2..15 per team (0: 250)")
	fs.IntVar(&o.Weeks, prefix+"weeks", o.Weeks, "weeks of events before end (0: 12)")
	fs.Func(prefix+"end", "exclusive end of event time, RFC 3339 (default: now, truncated to the hour)", func(s string) error {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("end must be RFC 3339, like 2025-03-14T15:00:00Z: %w", err)
		}
		o.End = t
		return nil
	})
	fs.Float64Var(&o.BadRate, prefix+"bad-rate", o.BadRate, "share of extra bad events (0: 0.01, negative: none)")
	fs.Float64Var(&o.DuplicateRate, prefix+"duplicate-rate", o.DuplicateRate, "share of events re-sent (0: 0.005, negative: none)")
	fs.Float64Var(&o.LateRate, prefix+"late-rate", o.LateRate, "share of events published up to 10 days late (0: 0.02, negative: none)")
}

// Default option values.
const (
	DefaultTeams         = 30
	DefaultUnits         = 6
	DefaultPeople        = 250
	DefaultWeeks         = 12
	DefaultBadRate       = 0.01
	DefaultDuplicateRate = 0.005
	DefaultLateRate      = 0.02
)

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Teams == 0 {
		o.Teams = DefaultTeams
	}
	if o.Units == 0 {
		o.Units = min(DefaultUnits, o.Teams)
	}
	if o.People == 0 {
		o.People = DefaultPeople
		if o.Teams != DefaultTeams {
			o.People = o.Teams * DefaultPeople / DefaultTeams
		}
	}
	if o.Weeks == 0 {
		o.Weeks = DefaultWeeks
	}
	if o.End.IsZero() {
		o.End = time.Now().UTC().Truncate(time.Hour)
	}
	if o.BadRate == 0 {
		o.BadRate = DefaultBadRate
	}
	if o.DuplicateRate == 0 {
		o.DuplicateRate = DefaultDuplicateRate
	}
	if o.LateRate == 0 {
		o.LateRate = DefaultLateRate
	}
	return o
}

// Validate reports options that cannot describe an organisation. It
// checks the options as given; call it on WithDefaults().
func (o Options) Validate() error {
	switch {
	case o.Teams < 1:
		return fmt.Errorf("%w: teams is %d, need at least 1", ErrOptions, o.Teams)
	case o.Units < 1 || o.Units > o.Teams:
		return fmt.Errorf("%w: units is %d, need 1..teams (%d)", ErrOptions, o.Units, o.Teams)
	case o.People < 2*o.Teams || o.People > 15*o.Teams:
		return fmt.Errorf("%w: people is %d, need %d..%d for %d teams of 2..15 people", ErrOptions, o.People, 2*o.Teams, 15*o.Teams, o.Teams)
	case o.Weeks < 1:
		return fmt.Errorf("%w: weeks is %d, need at least 1", ErrOptions, o.Weeks)
	case o.End.IsZero():
		return fmt.Errorf("%w: end is not set (use WithDefaults)", ErrOptions)
	case o.BadRate >= 1 || o.DuplicateRate >= 1 || o.LateRate >= 1:
		return fmt.Errorf("%w: rates must be below 1 (bad %g, duplicate %g, late %g)", ErrOptions, o.BadRate, o.DuplicateRate, o.LateRate)
	}
	return nil
}
