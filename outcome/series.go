package outcome

// Windows are the periods the Prometheus exporter publishes, as values of
// its window label.
const (
	CurrentWeek  = "current_week"
	PreviousWeek = "previous_week"
)

// The names of the agreement gauges: a team's own promises from the teams
// file, exported next to its outcomes (dashboards draw them as
// thresholds), and k of the privacy policy in force.
const (
	TeamResponseSLAName    = "shoal_team_response_sla_seconds"
	TeamFocusBlockName     = "shoal_team_focus_block_seconds"
	TeamOverworkPerDayName = "shoal_team_overwork_threshold_seconds"
	MinGroupSizeName       = "shoal_min_group_size"
)
