package outcome

// Level is a cell's place in the organisation tree.
type Level string

// The levels of a Shoal cell tree: org → units → teams.
const (
	LevelOrg  Level = "org"
	LevelUnit Level = "unit"
	LevelTeam Level = "team"
)

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
	// People is the number of distinct contributors of the metric's family
	// behind the cell: what the suppression policy decides on.
	People int
	// Samples is the number of values behind an order statistic (the tasks
	// or requests a percentile is taken over); 0 for other metrics.
	Samples int
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
