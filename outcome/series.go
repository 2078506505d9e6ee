package outcome

// The release gauges of the Prometheus exporter: which ISO week its
// outcome series describe, and when that week was released.
const (
	ReleaseWeekName = "shoal_release_week_start_timestamp_seconds"
	ReleasedAtName  = "shoal_release_timestamp_seconds"
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
