package outcome

// Level is a cell's place in the organisation tree.
type Level string

// The levels of a Shoal cell tree: org → units → teams.
const (
	LevelOrg  Level = "org"
	LevelUnit Level = "unit"
	LevelTeam Level = "team"
)

// Rank orders the levels from the top of the tree: org 0, unit 1, team
// (and anything else) 2.
func (l Level) Rank() int {
	switch l {
	case LevelOrg:
		return 0
	case LevelUnit:
		return 1
	}
	return 2
}

// Cell is one precomputed outcome value of one metric for one team, unit or
// the org over one period: an ISO week, or a day for the SQL endpoint's
// daily table.
type Cell struct {
	// Week is the first day of the period, days since 1970-01-01: the
	// Monday of the ISO week, or the day itself for a daily cell.
	Week   int32
	Level  Level
	Team   string // "" above team level
	Unit   string // "" at org level
	Metric string // catalog ID
	Value  float64
	// Defined is false when the value has no meaning for the window (e.g. a
	// ratio with nothing to divide by); such cells are not shown.
	Defined bool
	// People is the number of distinct people who contributed at least the
	// contribution floor of the metric's family (the teams file's
	// min_contribution) in the cell's period: what the minimum group size
	// is tested on. Someone with a single event, or a minute of time, is
	// not counted.
	People int
	// Samples is the number of values behind an order statistic (the tasks
	// or requests a percentile is taken over); 0 for other metrics.
	Samples int
	// Magnitudes are the additive quantities behind the metric's family at
	// the cell (seconds logged, tasks completed, ...), each with its two
	// largest single-person contributions: what the dominance rule decides
	// on. The metrics of one family at one cell share the slice; treat it
	// as read-only. Nil for a cell nobody contributed to.
	Magnitudes []Magnitude
}

// Magnitude is one additive quantity behind a metric family at a cell,
// summed over the people who contributed to it there (a person's
// contributions in several teams of a unit are summed before the largest
// are taken), with the two largest single-person contributions.
type Magnitude struct {
	Name       string // e.g. meeting_seconds, task_completions
	Total      float64
	Top1, Top2 float64 // the largest and second-largest person's part; 0 when missing
}

// HasData reports whether a cell's value holds anyone's contribution:
// someone reached the family's floor, or someone contributed below it.
// A cell without data is a known zero.
func (c Cell) HasData() bool {
	if c.People > 0 {
		return true
	}
	for _, m := range c.Magnitudes {
		if m.Total > 0 {
			return true
		}
	}
	return false
}

// CellID is a cell's id in its policy tree: team:ID, unit:ID or org.
func CellID(c Cell) string {
	switch c.Level {
	case LevelTeam:
		return "team:" + c.Team
	case LevelUnit:
		return "unit:" + c.Unit
	default:
		return "org"
	}
}

// weeklyOnly are the snapshot metrics that are not published per day.
var weeklyOnly = map[string]bool{"work_in_progress": true, "requests_open_past_sla": true}

// WeeklyOnly reports whether metric is published per ISO week only: an
// end-of-window snapshot (work in progress, requests open past SLA), whose
// value on a week's last day is its weekly value.
func WeeklyOnly(metric string) bool { return weeklyOnly[metric] }
