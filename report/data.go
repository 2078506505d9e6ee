package report

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// TrendWeeks is how many weeks the trend charts cover, ending with the
// report week.
const TrendWeeks = 8

// SLATarget is the share of requests answered within the agreed response
// time below which the report says a team missed its response SLA.
const SLATarget = 0.9

// Data is everything one weekly report shows. Cells must come from
// privacy.Apply: the report shows a cell's value only when it is Visible
// and Defined.
type Data struct {
	// Week is the report week.
	Week Week
	// TimeZone is the IANA name of the org's time zone, which the week
	// boundaries follow (each team's cells use its own zone's days).
	TimeZone string
	// K is the minimum group size in force.
	K int
	// Generated is when the report was made, shown in its footer.
	Generated time.Time
	// Units and Teams are the org's units and teams (display names and
	// each team's response SLA), in display order. A cell whose unit or
	// team is not listed is shown under its id.
	Units []Unit
	Teams []Team
	// Cells are the published cells of the weeks Week-TrendWeeks+1 to
	// Week (the trend); others are ignored.
	Cells []privacy.Published
	// Quality is what the pipeline accepted and refused in the report
	// week, as released.
	Quality Quality
	// Catalog is the metric catalog; nil means outcome.Catalog.
	Catalog []outcome.Metric
}

// Quality is what the pipeline did with one week's events.
type Quality struct {
	// Accepted is the number of events dated in the week that were
	// accepted, unless AcceptedWithheld: the release withheld it (fewer
	// than k people contributed that week).
	Accepted         int64
	AcceptedWithheld bool
	// Refused counts the events refused on the week's days (the day Shoal
	// refused them), by dead-letter reason.
	Refused map[string]int64
}

// Unit is one unit of the org.
type Unit struct {
	ID, Name string
}

// Team is one team of the org.
type Team struct {
	ID, Name, Unit string
	// ResponseSLA is the response time the team agreed to.
	ResponseSLA time.Duration
}

// Week is an ISO 8601 week: weeks start on Monday and week 1 is the week
// with the year's first Thursday.
type Week struct {
	Year, Week int
}

// ErrWeek is returned (wrapped) for a malformed or impossible week.
var ErrWeek = errors.New("week")

var weekRe = regexp.MustCompile(`^(\d{4})-?[Ww](\d{1,2})$`)

// ParseWeek parses an ISO week written like 2026-W47 (2026W47 and
// 2026-w47 are accepted too).
func ParseWeek(s string) (Week, error) {
	m := weekRe.FindStringSubmatch(s)
	if m == nil {
		return Week{}, fmt.Errorf("%w %q: write an ISO week as YEAR-Wnn, e.g. 2026-W47", ErrWeek, s)
	}
	y, _ := strconv.Atoi(m[1])
	w, _ := strconv.Atoi(m[2])
	if n := WeeksIn(y); w < 1 || w > n {
		return Week{}, fmt.Errorf("%w %q: %d has ISO weeks 1 to %d", ErrWeek, s, y, n)
	}
	return Week{y, w}, nil
}

// WeeksIn returns the number of ISO weeks of year (52 or 53).
func WeeksIn(year int) int {
	_, w := time.Date(year, 12, 28, 0, 0, 0, 0, time.UTC).ISOWeek()
	return w
}

// WeekOfDay returns the ISO week of day (days since 1970-01-01).
func WeekOfDay(day int32) Week {
	y, w := calendar.DayTime(day).ISOWeek()
	return Week{y, w}
}

// WeekOf returns the ISO week containing t in loc.
func WeekOf(t time.Time, loc *time.Location) Week {
	y, w := t.In(loc).ISOWeek()
	return Week{y, w}
}

// Monday returns the week's Monday, in days since 1970-01-01.
func (w Week) Monday() int32 {
	return calendar.WeekStart(calendar.DateOf(w.Year, time.January, 4)) + int32(w.Week-1)*7
}

// Add returns the week n weeks later (earlier for negative n).
func (w Week) Add(n int) Week { return WeekOfDay(w.Monday() + int32(7*n)) }

// Start returns the week's first instant (Monday 00:00) in loc.
func (w Week) Start(loc *time.Location) time.Time {
	y, m, d := calendar.DayTime(w.Monday()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// End returns the instant the week ends (the next Monday 00:00) in loc.
func (w Week) End(loc *time.Location) time.Time { return w.Add(1).Start(loc) }

// String writes the week as 2026-W47, which is also its file name stem.
func (w Week) String() string { return fmt.Sprintf("%04d-W%02d", w.Year, w.Week) }

// cellKey addresses one cell of Data.
type cellKey struct {
	week   int32
	level  outcome.Level
	unit   string
	team   string
	metric string
}

func keyOf(c outcome.Cell) cellKey {
	return cellKey{c.Week, c.Level, c.Unit, c.Team, c.Metric}
}

// state is what the report may say about a cell.
type state int

const (
	absent    state = iota // no cell: nothing happened in the week
	shown                  // Visible and Defined: the value may be shown
	undefined              // Visible, but the value has no meaning (nothing to divide by)
	withheld               // the suppression policy withheld it
)

// cells indexes Data.Cells. It is the only reader of a Published cell's
// Value: get returns the value only for a Visible, Defined cell.
// The index holds positions, not copies: at 2,000 teams it has about
// 245 k cells.
type cells struct {
	in []privacy.Published
	by map[cellKey]int32
}

func indexCells(in []privacy.Published) cells {
	c := cells{in: in, by: make(map[cellKey]int32, len(in))}
	for i, p := range in {
		c.by[keyOf(p.Cell)] = int32(i)
	}
	return c
}

// get returns the cell's state, its value when shown, and the policy's
// reason when withheld.
func (c cells) get(k cellKey) (float64, state, privacy.Reason) {
	i, ok := c.by[k]
	if !ok {
		return 0, absent, ""
	}
	p := &c.in[i]
	switch {
	case !p.Visible:
		return 0, withheld, p.Reason
	case !p.Defined:
		return 0, undefined, ""
	default:
		return p.Value, shown, ""
	}
}
