package agreements

import (
	"time"
	_ "time/tzdata" // time zones must resolve on hosts without a zoneinfo database
)

// Built-in defaults, used for every setting neither the team, its unit nor
// the org defaults set.
const (
	// DefaultTimeZone is the built-in time zone. Default: UTC
	DefaultTimeZone = "UTC"
	// DefaultResponseSLA is the built-in response time a team promises. Default: 24h
	DefaultResponseSLA = 24 * time.Hour
	// DefaultFocusBlockMin is the built-in shortest deep-work block. Default: 90m
	DefaultFocusBlockMin = 90 * time.Minute
	// DefaultOverworkPerDay is the built-in daily hours beyond which a day
	// counts as overwork. Default: 10h
	DefaultOverworkPerDay = 10 * time.Hour
)

// defaultWorkingDays is the built-in working week: Monday to Friday. (Not
// exported: a package variable could be changed by any importer.)
var defaultWorkingDays = [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true}

// UnassignedUnit is the unit of every team the file does not list (and of
// every team when there is no file).
const UnassignedUnit = "unassigned"

// Agreement is one team's resolved settings: the team's own value, else its
// unit's defaults, else the org defaults, else the built-in default.
type Agreement struct {
	Team     string // team id
	Unit     string // unit id; UnassignedUnit for a team the file does not list
	TeamName string // display name; the id when the file gives none
	UnitName string // display name; the id when the file gives none

	Location *time.Location // never nil for an Agreement from an Org
	TimeZone string         // IANA name of Location, as written in the file

	// ResponseSLA is the response time the team promises; only time on
	// working days counts against it. Default: 24h
	ResponseSLA time.Duration
	// WorkingDays is indexed by time.Weekday. Default: Monday to Friday
	WorkingDays [7]bool
	// FocusBlockMin is the shortest uninterrupted stretch that counts as a
	// deep-work block. Default: 90m
	FocusBlockMin time.Duration
	// OverworkPerDay is the daily time beyond which a day counts towards the
	// overwork signal. Default: 10h
	OverworkPerDay time.Duration

	// Listed is false for a team the file does not list: it gets the org
	// defaults and unit UnassignedUnit.
	Listed bool
}

func builtin() Agreement {
	return Agreement{
		Unit:           UnassignedUnit,
		UnitName:       UnassignedUnit,
		Location:       time.UTC,
		TimeZone:       DefaultTimeZone,
		ResponseSLA:    DefaultResponseSLA,
		WorkingDays:    defaultWorkingDays,
		FocusBlockMin:  DefaultFocusBlockMin,
		OverworkPerDay: DefaultOverworkPerDay,
	}
}

func (a *Agreement) loc() *time.Location {
	if a.Location == nil {
		return time.UTC
	}
	return a.Location
}

// IsWorkingDay reports whether day (days since 1970-01-01, counted in the
// team's zone) is one of the team's working days.
func (a Agreement) IsWorkingDay(day int32) bool { return a.WorkingDays[weekday(int64(day))] }

// WorkingSeconds returns how many seconds of [from, to) fall on the team's
// working days, whole calendar days in the team's zone: a day of 23 or 25
// hours (a DST change) counts 23 or 25 hours. It is 0 when to is not after
// from.
func (a Agreement) WorkingSeconds(from, to time.Time) float64 { return a.workingSeconds(from, to) }

const secondsPerDay = 86400

// weekday returns the weekday of day (days since 1970-01-01, a Thursday).
func weekday(day int64) time.Weekday { return time.Weekday(floorMod(day+4, 7)) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// workingSeconds walks the zone periods (spans of constant UTC offset) that
// [from, to) crosses, usually one or two, and counts the working seconds of
// each with calendar arithmetic on local seconds: no loop over days or hours.
func (a *Agreement) workingSeconds(from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	n := 0
	for _, w := range a.WorkingDays {
		if w {
			n++
		}
	}
	switch n {
	case 0:
		return 0
	case 7:
		return to.Sub(from).Seconds()
	}
	// before[i] = working days among the first i days of a week that starts
	// on a Thursday (day 0 of the epoch).
	var before [8]int64
	for i := range 7 {
		before[i+1] = before[i]
		if a.WorkingDays[(i+4)%7] {
			before[i+1]++
		}
	}
	// upTo returns the working whole seconds from local day 0 up to the local
	// second x (negative before day 0), and whether x's day is a working day.
	upTo := func(x int64) (int64, bool) {
		day := floorDiv(x, secondsPerDay)
		weeks := floorDiv(day, 7)
		rem := day - weeks*7
		s := (weeks*int64(n) + before[rem]) * secondsPerDay
		work := a.WorkingDays[(rem+4)%7]
		if work {
			s += x - day*secondsPerDay
		}
		return s, work
	}
	loc := a.loc()
	var secs, nanos int64
	for cur := from; cur.Before(to); {
		local := cur.In(loc)
		_, off := local.Zone()
		end := to
		if _, zoneEnd := local.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(to) && zoneEnd.After(cur) {
			end = zoneEnd
		}
		s0, w0 := upTo(cur.Unix() + int64(off))
		s1, w1 := upTo(end.Unix() + int64(off))
		secs += s1 - s0
		if w0 {
			nanos -= int64(cur.Nanosecond())
		}
		if w1 {
			nanos += int64(end.Nanosecond())
		}
		cur = end
	}
	return float64(secs) + float64(nanos)/1e9
}
