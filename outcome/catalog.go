package outcome

// Family says whose distinct people count a metric's cell towards the
// minimum group size: the suppression policy decides each family's cells
// from that family's contributors.
type Family string

// The metric families.
const (
	// Flow metrics count people who acted on the tasks (created, started or
	// completed them).
	Flow Family = "flow"
	// Time metrics count people who logged time.
	Time Family = "time"
	// Async metrics count requesters and responders.
	Async Family = "async"
)

// Volume are the quantities that measure how much each person did in a
// family at all (outcome.Magnitude names): the dominance rule applied to
// them withholds every metric of the family, because where one or two
// people did nearly all of it, every figure of the family mostly
// describes them (four invented accounts with an hour each beside one
// real person's forty would otherwise leave her meeting load readable:
// the accounts' own hours are known to whoever made them). The rule on a
// metric's own Parts withholds that metric only.
func (f Family) Volume() []string {
	switch f {
	case Flow:
		return []string{"task_starts", "task_completions"}
	case Time:
		return []string{"logged_seconds", "person_days"}
	case Async:
		return []string{"requests_opened", "requests_answered"}
	}
	return nil
}

// Direction says which way is better, for dashboards' thresholds and the
// report's "improved / got worse" sentences.
type Direction string

// Directions.
const (
	HigherIsBetter Direction = "higher_is_better"
	LowerIsBetter  Direction = "lower_is_better"
	Neutral        Direction = "neutral"
)

// Unit is the base unit of a metric's value.
type Unit string

// Units, as Prometheus and Grafana understand them.
const (
	Seconds  Unit = "seconds"
	Ratio    Unit = "ratio" // 0..1
	Tasks    Unit = "tasks"
	Requests Unit = "requests"
	Blocks   Unit = "blocks"
)

// GrafanaUnit is the Grafana field unit for a metric unit.
func (u Unit) GrafanaUnit() string {
	switch u {
	case Seconds:
		return "s"
	case Ratio:
		return "percentunit"
	default:
		return "short"
	}
}

// Window is the period a metric's value covers.
const Window = "ISO week (Monday to Sunday) in the team's time zone"

// Metric is one entry of the catalog: the single definition that the
// exporter, the dashboards, the SQL views and the report all use.
type Metric struct {
	// ID is the short name: the column in SQL views and the key in rollups.
	ID string
	// Name is the Prometheus metric name.
	Name string
	// Title is the human name for panels and report tables.
	Title string
	// Help is one sentence for Prometheus HELP and panel descriptions.
	Help string
	// Definition says exactly how the value is computed.
	Definition string
	Unit       Unit
	Direction  Direction
	Family     Family
	// Parts are the additive quantities the value is built from, by their
	// outcome.Magnitude names: the dominance rule is applied to each, so
	// both parts of a ratio are covered. A count of people (the
	// denominator of a per-person average) is not a part: k covers it.
	Parts []string
	// MinSamples is the fewest values an order statistic (a percentile) is
	// released over: over one or two values a percentile is those values.
	// 0 for every other metric.
	MinSamples int
}

// The minimum samples of the percentiles (issue 20's defaults): a median
// over fewer than 10 values, an 85th percentile over fewer than 20, is
// withheld (privacy.ReasonFewSamples).
const (
	MinSamplesP50 = 10
	MinSamplesP85 = 20
)

// Catalog is every outcome metric Shoal computes, in display order. Every
// value is a team, unit or org aggregate over one window; none is ever
// computed or shown for a person.
var Catalog = []Metric{
	{
		ID: "tasks_completed", Name: "shoal_tasks_completed", Title: "Throughput",
		Help:       "Tasks completed in the window (throughput).",
		Definition: "Tasks whose last completion falls in the window and that were not reopened after it. A task reopened and completed again counts in the window of its final completion.",
		Unit:       Tasks, Direction: HigherIsBetter, Family: Flow, Parts: []string{"task_completions"},
	},
	{
		ID: "lead_time_p50", Name: "shoal_lead_time_p50_seconds", Title: "Lead time p50",
		Help:       "Median time from task created to completed, for tasks completed in the window.",
		Definition: "50th percentile (linear interpolation) of completed_at - created_at over tasks completed in the window that have a created event; negative spans are ignored.",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"}, MinSamples: MinSamplesP50,
	},
	{
		ID: "lead_time_p85", Name: "shoal_lead_time_p85_seconds", Title: "Lead time p85",
		Help:       "85th percentile of time from task created to completed, for tasks completed in the window.",
		Definition: "85th percentile (linear interpolation) of completed_at - created_at over tasks completed in the window that have a created event; negative spans are ignored.",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"}, MinSamples: MinSamplesP85,
	},
	{
		ID: "cycle_time_p50", Name: "shoal_cycle_time_p50_seconds", Title: "Cycle time p50",
		Help:       "Median time from task first started to completed, for tasks completed in the window.",
		Definition: "50th percentile (linear interpolation) of completed_at - first started_at over tasks completed in the window that were started; negative spans are ignored.",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"}, MinSamples: MinSamplesP50,
	},
	{
		ID: "cycle_time_p85", Name: "shoal_cycle_time_p85_seconds", Title: "Cycle time p85",
		Help:       "85th percentile of time from task first started to completed, for tasks completed in the window.",
		Definition: "85th percentile (linear interpolation) of completed_at - first started_at over tasks completed in the window that were started; negative spans are ignored.",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"}, MinSamples: MinSamplesP85,
	},
	{
		ID: "work_in_progress", Name: "shoal_work_in_progress_tasks", Title: "Work in progress",
		Help:       "Tasks started and neither completed nor cancelled at the end of the window.",
		Definition: "Tasks first started before the end of the window whose completion (if any) and cancellation (if any) are after the end of the window.",
		Unit:       Tasks, Direction: Neutral, Family: Flow, Parts: []string{"task_starts"},
	},
	{
		ID: "on_time_ratio", Name: "shoal_on_time_ratio", Title: "On-time delivery",
		Help:       "Share of tasks completed in the window, among those with a due date, that were completed on or before it.",
		Definition: "Among tasks completed in the window that have a due date: completed_at <= due for a due with a time of day; for a date-only due, completed on or before that day in the team's time zone (i.e. by the end of that day).",
		Unit:       Ratio, Direction: HigherIsBetter, Family: Flow, Parts: []string{"task_completions"},
	},
	{
		ID: "reopen_ratio", Name: "shoal_reopen_ratio", Title: "Reopen rate",
		Help:       "Share of tasks completed in the window that had been reopened at least once.",
		Definition: "Tasks completed in the window with at least one reopened event, divided by tasks completed in the window.",
		Unit:       Ratio, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"},
	},
	{
		ID: "blocked_time_ratio", Name: "shoal_blocked_time_ratio", Title: "Blocked-time share",
		Help:       "Share of the cycle time of tasks completed in the window that they spent blocked.",
		Definition: "Sum over tasks completed in the window of the time between each blocked event and the next unblocked event (or the completion), divided by the sum of their cycle times.",
		Unit:       Ratio, Direction: LowerIsBetter, Family: Flow, Parts: []string{"task_completions"},
	},
	{
		ID: "focus_ratio", Name: "shoal_focus_time_ratio", Title: "Focus share",
		Help:       "Share of the time people chose to log in the window that was focus time.",
		Definition: "Focus seconds divided by all logged seconds, from work.time.logged entries starting in the window.",
		Unit:       Ratio, Direction: HigherIsBetter, Family: Time, Parts: []string{"focus_seconds", "logged_seconds"},
	},
	{
		ID: "deep_work_blocks", Name: "shoal_deep_work_blocks_per_person", Title: "Deep-work blocks",
		Help:       "Focus entries at least as long as the team's focus_block_min, per person who logged time in the window.",
		Definition: "Count of focus time entries starting in the window whose length is at least the team's focus_block_min, divided by the number of distinct people who logged time in the window (a team average per person-week).",
		Unit:       Blocks, Direction: HigherIsBetter, Family: Time, Parts: []string{"deep_work_blocks"},
	},
	{
		ID: "meeting_load", Name: "shoal_meeting_load_seconds", Title: "Meeting load",
		Help:       "Meeting time logged in the window per person who logged time.",
		Definition: "Meeting seconds from time entries starting in the window, divided by the number of distinct people who logged time in the window (per person-week).",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Time, Parts: []string{"meeting_seconds"},
	},
	{
		ID: "overwork_ratio", Name: "shoal_overwork_ratio", Title: "Overwork signal",
		Help:       "Share of person-days with logged time that exceeded the team's overwork_hours_per_day or fell on a non-working day.",
		Definition: "Among (person, team-local day) pairs in the window with any logged time: those whose logged time exceeds overwork_hours_per_day or whose day is not one of the team's working_days, divided by all such pairs. A team condition, never a per-person figure.",
		Unit:       Ratio, Direction: LowerIsBetter, Family: Time, Parts: []string{"overwork_days", "person_days"},
	},
	{
		ID: "response_within_sla_ratio", Name: "shoal_response_within_sla_ratio", Title: "Response SLA adherence",
		Help:       "Share of requests opened in the window that were answered within the team's response_sla, counting only working days.",
		Definition: "Among requests opened in the window that were answered, or are still open with more working time elapsed than the response_sla: those answered within response_sla of working time (time on the team's working days in its time zone).",
		Unit:       Ratio, Direction: HigherIsBetter, Family: Async, Parts: []string{"requests_opened", "requests_answered"},
	},
	{
		ID: "response_time_p50", Name: "shoal_response_time_p50_seconds", Title: "Median response time",
		Help:       "Median wall-clock time from request opened to first response, for requests answered in the window.",
		Definition: "50th percentile (linear interpolation) of first responded_at - opened_at over requests whose first response falls in the window; negative spans are ignored.",
		Unit:       Seconds, Direction: LowerIsBetter, Family: Async, Parts: []string{"requests_opened", "requests_answered"}, MinSamples: MinSamplesP50,
	},
	{
		ID: "requests_open_past_sla", Name: "shoal_requests_open_past_sla", Title: "Requests open past SLA",
		Help:       "Requests still unanswered at the end of the window with more working time elapsed than the team's response_sla.",
		Definition: "Requests opened before the end of the window, not answered by then, whose working time elapsed from opening to the end of the window exceeds response_sla.",
		Unit:       Requests, Direction: LowerIsBetter, Family: Async, Parts: []string{"requests_opened"},
	},
}

// ByID returns the catalog entry with the given ID.
func ByID(id string) (Metric, bool) {
	for _, m := range Catalog {
		if m.ID == id {
			return m, true
		}
	}
	return Metric{}, false
}
