package report

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the org's zone must resolve on hosts without a zoneinfo database

	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

// The metrics of each part of the report, by catalog ID.
var (
	headlineMetrics = []string{"tasks_completed", "lead_time_p50", "cycle_time_p50", "cycle_time_p85", "work_in_progress",
		"on_time_ratio", "reopen_ratio", "blocked_time_ratio", "response_within_sla_ratio", "response_time_p50", "requests_open_past_sla"}
	teamMetrics = []string{"tasks_completed", "cycle_time_p50", "on_time_ratio", "reopen_ratio", "work_in_progress",
		"response_within_sla_ratio", "response_time_p50", "requests_open_past_sla"}
	wellbeingMetrics = []string{"focus_ratio", "deep_work_blocks", "meeting_load", "overwork_ratio"}
	chartMetrics     = []string{"tasks_completed", "cycle_time_p50", "on_time_ratio", "response_within_sla_ratio",
		"focus_ratio", "meeting_load", "overwork_ratio", "response_time_p50"}
	summaryOrder = []string{"tasks_completed", "cycle_time_p50", "on_time_ratio", "response_within_sla_ratio"}
)

// familyWords names what a metric family's figures are about.
var familyWords = map[outcome.Family]string{
	outcome.Flow:  "delivery",
	outcome.Time:  "focus",
	outcome.Async: "responsiveness",
}

// NeverCollected is what Shoal refuses to take in, for the methodology.
const NeverCollected = "Shoal never collects keystrokes, mouse activity, screenshots, window titles, URLs, app usage, " +
	"idle or away time, or location: events that carry them are refused at the door. It takes in only task lifecycle " +
	"events, time people chose to log themselves, and request/response timestamps. Every person identifier is replaced " +
	"on arrival by a keyed pseudonym, and no figure is ever computed or shown for a person."

// reasonMeaning says in plain words why events were refused.
var reasonMeaning = map[string]string{
	"too_large":           "larger than the size limit",
	"malformed_json":      "not a well-formed JSON event",
	"surveillance_type":   "a monitoring event type, which Shoal never accepts",
	"surveillance_field":  "carried a monitoring field, which Shoal never accepts",
	"unknown_type":        "an event type outside the contract",
	"unknown_field":       "a field outside the contract",
	"missing_field":       "a required field was missing",
	"bad_value":           "a value of the wrong type or out of range",
	"bad_time":            "a timestamp that is not RFC 3339, or out of the plausible range",
	"end_before_start":    "a time entry ending before it starts",
	"identifier_in_field": "a person's identifier (an e-mail, @handle or phone number) in a field that must not carry one",
	"unknown_team":        "a team the teams file does not list",
	"unmapped_identity":   "a person the intake's people file does not list",
}

// view is the report's content, computed once and rendered by every format.
type view struct {
	Title, WeekID, WeekLabel, Range, TimeZone, Generated, PrevWeekID string
	K                                                                int
	NoData                                                           bool
	Partial                                                          bool // the week was not over when the report was made
	Overview                                                         []string
	Improved, Worse, SLAMissed                                       []string
	SLANote                                                          string

	KPIs                                       []kpi
	Headline, Teams, Wellbeing, TeamConditions table
	Charts                                     []chartView
	Legend                                     []legendItem
	TrendWeeks                                 []string

	RolledUp, Hidden, Quiet []string
	Quality                 qualityView
	Methods                 []methodView
	SLATarget               string
}

// kpi is one headline figure of the org.
type kpi struct {
	Title, Help string
	Cell        cellView
}

type table struct {
	Head []string
	Rows []row
}

type row struct {
	Label, Sub string
	Cells      []cellView
}

// cellView is one shown (or explained) value.
type cellView struct {
	Value  string // the value, or "rolled up", "hidden", "n/a", "no data"
	Change string // week-over-week change, "" when none
	Class  string // better, worse, flat; muted for a value not shown
	Title  string // a tooltip explaining a value that is not shown
	Raw    float64
	Shown  bool
	Alert  bool // a team below the response-SLA target
}

type chartView struct {
	Metric, Title, Help, Latest string
	SVG                         string
	Rows                        []trendRow // the chart's data, for Markdown and screen readers
}

type trendRow struct {
	Label  string
	Values []string
}

type legendItem struct{ Label, Color string }

// qualityView is the week's data quality. Accepted counts events by their
// (team-local) day; refused ones by the day Shoal refused them, as a
// refused event may have no valid day of its own.
type qualityView struct {
	Accepted, Refused int64
	AcceptedText      string // with thousands separators
	RefusedText       string
	Reasons           []reasonView
}

type reasonView struct {
	Reason, Meaning string
	Count           int64
	CountText       string
}

// thousands writes n with comma thousands separators: 13,377.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

type methodView struct {
	Title, Help, Definition, Unit, Better, Counts string
}

// builder holds what building a view needs.
type builder struct {
	d Data
	// text turns a string from the data (a team or unit name, an id shown
	// in its place, the time zone) into text of the output format: mdText
	// for Markdown; html/template escapes the HTML, and the CSV shows ids
	// only, through csvText.
	text    func(string) string
	cells   cells
	catalog map[string]outcome.Metric
	week    int32
	prev    int32
	// units and teams have cells in the report week, in display order;
	// their names have been through text.
	units []Unit
	teams []Team
}

func (b *builder) metric(id string) outcome.Metric { return b.catalog[id] }

// newBuilder checks d and indexes it; text is builder.text (nil: the
// identity).
func newBuilder(d Data, text func(string) string) (*builder, error) {
	if d.K < privacy.FloorMinGroupSize {
		return nil, fmt.Errorf("report: k = %d is below the floor of %d; pass the policy's k", d.K, privacy.FloorMinGroupSize)
	}
	if _, err := time.LoadLocation(d.TimeZone); err != nil {
		return nil, fmt.Errorf("report: time zone %q: %w (pass the org's IANA zone, e.g. Europe/Berlin; empty means UTC)", d.TimeZone, err)
	}
	if d.Catalog == nil {
		d.Catalog = outcome.Catalog
	}
	if text == nil {
		text = func(s string) string { return s }
	}
	b := &builder{d: d, text: text, cells: indexCells(d.Cells), catalog: map[string]outcome.Metric{}, week: d.Week.Monday(), prev: d.Week.Add(-1).Monday()}
	for _, m := range d.Catalog {
		b.catalog[m.ID] = m
	}
	for _, ids := range [][]string{headlineMetrics, teamMetrics, wellbeingMetrics, chartMetrics} {
		for _, id := range ids {
			if _, ok := b.catalog[id]; !ok {
				return nil, fmt.Errorf("report: metric %q is not in the catalog", id)
			}
		}
	}
	b.units, b.teams = b.present()
	return b, nil
}

// present returns the units and teams that have a cell in the report week,
// in the order of Data.Units and Data.Teams, then unlisted ones by id; a
// name is the data's display name (the id when it has none) through
// b.text.
func (b *builder) present() ([]Unit, []Team) {
	unitSeen, teamSeen := map[string]bool{}, map[string]Team{}
	for _, p := range b.d.Cells {
		if p.Week != b.week {
			continue
		}
		switch p.Level {
		case outcome.LevelUnit:
			unitSeen[p.Unit] = true
		case outcome.LevelTeam:
			unitSeen[p.Unit] = true
			teamSeen[p.Team] = Team{ID: p.Team, Name: b.text(p.Team), Unit: p.Unit}
		}
	}
	var units []Unit
	for _, u := range b.d.Units {
		if unitSeen[u.ID] {
			units = append(units, Unit{ID: u.ID, Name: b.text(cmp.Or(u.Name, u.ID))})
			delete(unitSeen, u.ID)
		}
	}
	var rest []string
	for u := range unitSeen {
		rest = append(rest, u)
	}
	slices.Sort(rest)
	for _, u := range rest {
		units = append(units, Unit{ID: u, Name: b.text(u)})
	}
	order := map[string]int{}
	for i, u := range units {
		order[u.ID] = i
	}
	listed := map[string]int{}
	for i, t := range b.d.Teams {
		listed[t.ID] = i
		if _, ok := teamSeen[t.ID]; ok {
			tt := t
			tt.Unit = teamSeen[t.ID].Unit // the cell's unit is the one its figures rolled into
			tt.Name = b.text(cmp.Or(tt.Name, tt.ID))
			teamSeen[t.ID] = tt
		}
	}
	teams := make([]Team, 0, len(teamSeen))
	for _, t := range teamSeen {
		teams = append(teams, t)
	}
	sort.Slice(teams, func(i, j int) bool {
		a, c := teams[i], teams[j]
		if order[a.Unit] != order[c.Unit] {
			return order[a.Unit] < order[c.Unit]
		}
		ia, oka := listed[a.ID]
		ic, okc := listed[c.ID]
		if oka != okc {
			return oka
		}
		if oka && ia != ic {
			return ia < ic
		}
		return a.ID < c.ID
	})
	return units, teams
}

// unitName is the display name of a unit of the report week, through
// b.text.
func (b *builder) unitName(id string) string {
	for _, u := range b.units {
		if u.ID == id {
			return u.Name
		}
	}
	return b.text(id)
}

func orgKey(week int32, metric string) cellKey {
	return cellKey{week: week, level: outcome.LevelOrg, metric: metric}
}
func unitKey(week int32, unit, metric string) cellKey {
	return cellKey{week: week, level: outcome.LevelUnit, unit: unit, metric: metric}
}
func teamKey(week int32, t Team, metric string) cellKey {
	return cellKey{week: week, level: outcome.LevelTeam, unit: t.Unit, team: t.ID, metric: metric}
}

// cellView describes the cell at k this week against the same cell the
// week before (prevKey).
func (b *builder) cellView(m outcome.Metric, k, prevKey cellKey) cellView {
	v, st, reason := b.cells.get(k)
	switch st {
	case absent:
		return cellView{Value: "no data", Class: "muted", Title: "no events this week"}
	case undefined:
		return cellView{Value: "n/a", Class: "muted", Title: "nothing to measure this week (e.g. no completed tasks or no requests)"}
	case withheld:
		switch reason {
		case privacy.ReasonBelowK:
			return cellView{Value: "rolled up", Class: "muted", Title: fmt.Sprintf("fewer than %d people contributed; included in the unit's figures", b.d.K)}
		case privacy.ReasonDominance:
			return cellView{Value: "withheld", Class: "muted", Title: "one or two people contributed nearly all of what it adds up; included in the unit's figures"}
		case privacy.ReasonFewSamples:
			return cellView{Value: "too few", Class: "muted", Title: fmt.Sprintf("fewer than %d values this week: a percentile of so few would show them", m.MinSamples)}
		}
		return cellView{Value: "hidden", Class: "muted", Title: "withheld so that a rolled-up team cannot be worked out from the unit's total"}
	}
	cv := cellView{Value: fmtValue(m, v), Raw: v, Shown: true, Class: "flat"}
	if pv, pst, _ := b.cells.get(prevKey); pst == shown {
		c := compare(m, pv, v)
		cv.Change, cv.Class = c.text, c.class
		cv.Title = "previous week: " + fmtValue(m, pv)
	} else {
		cv.Title = "no comparable value the previous week"
	}
	return cv
}

// build computes the whole view.
func (b *builder) build() view {
	d := b.d
	loc, _ := time.LoadLocation(d.TimeZone) // checked by newBuilder; "" is UTC
	start := d.Week.Start(loc)
	end := d.Week.End(loc).Add(-time.Second)
	v := view{
		Title:      "Weekly team outcomes",
		WeekID:     d.Week.String(),
		WeekLabel:  fmt.Sprintf("Week %d, %d", d.Week.Week, d.Week.Year),
		Range:      dateRange(start, end),
		TimeZone:   b.text(loc.String()),
		K:          d.K,
		PrevWeekID: d.Week.Add(-1).String(),
		SLATarget:  fmt.Sprintf("%.0f%%", SLATarget*100),
	}
	if !d.Generated.IsZero() {
		v.Generated = d.Generated.In(loc).Format("Monday 2 January 2006, 15:04 MST")
		v.Partial = d.Generated.Before(d.Week.End(loc))
	}
	v.NoData = b.shownCells() == 0
	v.Quality = b.quality()
	v.Methods = b.methods()
	if v.NoData {
		return v
	}
	b.privacyLists(&v)
	b.summary(&v)
	for _, id := range summaryOrder {
		m := b.metric(id)
		v.KPIs = append(v.KPIs, kpi{Title: m.Title, Help: m.Help, Cell: b.cellView(m, orgKey(b.week, id), orgKey(b.prev, id))})
	}
	v.Headline = b.levelTable(headlineMetrics)
	v.Wellbeing = b.levelTable(wellbeingMetrics)
	v.Teams = b.teamTable(teamMetrics)
	v.TeamConditions = b.teamTable(wellbeingMetrics)
	b.charts(&v)
	return v
}

// shownCells counts the report week's visible cells: none means nothing
// can be shown (no events, or too few contributors everywhere; a release
// has a cell for every team either way).
func (b *builder) shownCells() int {
	n := 0
	for _, p := range b.d.Cells {
		if p.Week == b.week && p.Visible {
			n++
		}
	}
	return n
}

func dateRange(start, end time.Time) string {
	switch {
	case start.Year() != end.Year():
		return start.Format("Monday 2 January 2006") + " – " + end.Format("Sunday 2 January 2006")
	case start.Month() != end.Month():
		return start.Format("Monday 2 January") + " – " + end.Format("Sunday 2 January 2006")
	default:
		return start.Format("Monday 2") + " – " + end.Format("Sunday 2 January 2006")
	}
}

// levelTable is one row per metric, one column for the org and each unit.
func (b *builder) levelTable(ids []string) table {
	t := table{Head: []string{"Organisation"}}
	for _, u := range b.units {
		t.Head = append(t.Head, u.Name)
	}
	for _, id := range ids {
		m := b.metric(id)
		r := row{Label: m.Title, Sub: m.Help}
		r.Cells = append(r.Cells, b.cellView(m, orgKey(b.week, id), orgKey(b.prev, id)))
		for _, u := range b.units {
			r.Cells = append(r.Cells, b.cellView(m, unitKey(b.week, u.ID, id), unitKey(b.prev, u.ID, id)))
		}
		t.Rows = append(t.Rows, r)
	}
	return t
}

// teamTable is one row per team with at least one shown value among ids.
func (b *builder) teamTable(ids []string) table {
	t := table{}
	for _, id := range ids {
		t.Head = append(t.Head, b.metric(id).Title)
	}
	for _, tm := range b.teams {
		r := row{Label: tm.Name, Sub: b.unitName(tm.Unit)}
		any := false
		for _, id := range ids {
			c := b.cellView(b.metric(id), teamKey(b.week, tm, id), teamKey(b.prev, tm, id))
			if id == "response_within_sla_ratio" && c.Shown && c.Raw < SLATarget {
				c.Alert = true
				c.Title = "below the " + fmt.Sprintf("%.0f%%", SLATarget*100) + " target; " + c.Title
			}
			any = any || c.Shown || c.Value == "n/a"
			r.Cells = append(r.Cells, c)
		}
		if any {
			t.Rows = append(t.Rows, r)
		}
	}
	return t
}

// privacyLists names the teams the policy rolled up or hid in the report
// week, and the listed teams that had no events.
func (b *builder) privacyLists(v *view) {
	for _, tm := range b.teams {
		fams := map[privacy.Reason][]string{}
		for _, m := range b.d.Catalog {
			_, st, reason := b.cells.get(teamKey(b.week, tm, m.ID))
			if st != withheld {
				continue
			}
			w := familyWords[m.Family]
			if !slices.Contains(fams[reason], w) {
				fams[reason] = append(fams[reason], w)
			}
		}
		name := fmt.Sprintf("%s (%s)", tm.Name, b.unitName(tm.Unit))
		which := func(f []string) string {
			if len(f) == len(familyWords) {
				return "all figures"
			}
			return joinAnd(f) + " figures"
		}
		if f := fams[privacy.ReasonBelowK]; len(f) > 0 {
			v.RolledUp = append(v.RolledUp, name+": "+which(f))
		}
		if f := fams[privacy.ReasonComplementary]; len(f) > 0 {
			v.Hidden = append(v.Hidden, name+": "+which(f))
		}
	}
	present := map[string]bool{}
	for _, t := range b.teams {
		present[t.ID] = true
	}
	for _, t := range b.d.Teams {
		if !present[t.ID] {
			v.Quiet = append(v.Quiet, b.text(cmp.Or(t.Name, t.ID)))
		}
	}
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	default:
		return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
	}
}

// summary writes the executive summary from org-level shown cells and the
// shown SLA adherence of teams.
func (b *builder) summary(v *view) {
	first := fmt.Sprintf("The release of this week covers %d %s in %d %s", len(b.teams), pl(len(b.teams), "team", "teams"), len(b.units), pl(len(b.units), "unit", "units"))
	var parts []string
	if n := len(v.RolledUp); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s rolled up into %s unit for having fewer than %d contributors", n, pl(n, "team is", "teams are"), pl(n, "its", "their"), b.d.K))
	}
	if n := len(v.Hidden); n > 0 {
		parts = append(parts, fmt.Sprintf("%d %s shown only within unit totals so that no rolled-up team can be worked out", n, pl(n, "team is", "teams are")))
	}
	if len(parts) > 0 {
		first += "; " + joinAnd(parts)
	}
	v.Overview = append(v.Overview, first+".")

	var facts []string
	for _, id := range summaryOrder {
		m := b.metric(id)
		cur, st, _ := b.cells.get(orgKey(b.week, id))
		if st != shown {
			continue
		}
		s := summaryFact(m, cur)
		if pv, pst, _ := b.cells.get(orgKey(b.prev, id)); pst == shown {
			if c := compare(m, pv, cur); c.text != "" {
				s += " (" + c.text + " on the week before)"
			}
		}
		facts = append(facts, s)
	}
	if len(facts) > 0 {
		v.Overview = append(v.Overview, "Across the organisation, "+joinAnd(facts)+".")
	}

	type move struct {
		sentence string
		score    float64
	}
	var better, worse []move
	for _, m := range b.d.Catalog {
		if m.Direction == outcome.Neutral {
			continue
		}
		cur, st, _ := b.cells.get(orgKey(b.week, m.ID))
		pv, pst, _ := b.cells.get(orgKey(b.prev, m.ID))
		if st != shown || pst != shown {
			continue
		}
		c := compare(m, pv, cur)
		if c.score < 1 || c.class == "flat" {
			continue
		}
		verb := "fell"
		if c.up {
			verb = "rose"
		}
		s := fmt.Sprintf("%s %s from %s to %s (%s).", m.Title, verb, fmtLong(m, pv), fmtLong(m, cur), c.text)
		if c.class == "better" {
			better = append(better, move{s, c.score})
		} else {
			worse = append(worse, move{s, c.score})
		}
	}
	top := func(ms []move) []string {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].score > ms[j].score })
		var out []string
		for i, m := range ms {
			if i == 4 {
				break
			}
			out = append(out, m.sentence)
		}
		return out
	}
	v.Improved, v.Worse = top(better), top(worse)

	sla := b.metric("response_within_sla_ratio")
	type miss struct {
		sentence string
		ratio    float64
	}
	var misses []miss
	measured := 0
	for _, tm := range b.teams {
		r, st, _ := b.cells.get(teamKey(b.week, tm, sla.ID))
		if st != shown {
			continue
		}
		measured++
		if r >= SLATarget {
			continue
		}
		s := fmt.Sprintf("%s (%s) answered %s of requests within its agreed %s", tm.Name, b.unitName(tm.Unit), fmtValue(sla, r), fmtSLA(tm.ResponseSLA))
		open := b.metric("requests_open_past_sla")
		if n, st, _ := b.cells.get(teamKey(b.week, tm, open.ID)); st == shown && n > 0 {
			s += fmt.Sprintf("; %s still open past it at the end of the week", fmtLong(open, n))
		}
		misses = append(misses, miss{s + ".", r})
	}
	sort.SliceStable(misses, func(i, j int) bool { return misses[i].ratio < misses[j].ratio })
	for i, m := range misses {
		if i == maxSLAListed {
			break
		}
		v.SLAMissed = append(v.SLAMissed, m.sentence)
	}
	switch {
	case measured == 0:
		v.SLANote = "No team's response-SLA adherence can be shown this week."
	case len(misses) == 0:
		v.SLANote = fmt.Sprintf("Every team shown answered at least %s of requests within its agreed response time.", v.SLATarget)
	case len(misses) > maxSLAListed:
		who := fmt.Sprintf("%d of the %d teams shown", len(misses), measured)
		if len(misses) == measured {
			who = fmt.Sprintf("All %d teams shown", measured)
		}
		v.SLANote = fmt.Sprintf("%s answered fewer than %s of requests within their agreed response time; the %d furthest below (all are in the team table):",
			who, v.SLATarget, maxSLAListed)
	default:
		v.SLANote = fmt.Sprintf("Teams that answered fewer than %s of requests within their agreed response time:", v.SLATarget)
	}
}

// maxSLAListed is how many teams that missed their response SLA the
// summary names; the team table shows them all.
const maxSLAListed = 5

func summaryFact(m outcome.Metric, v float64) string {
	switch m.ID {
	case "tasks_completed":
		return "teams completed " + fmtLong(m, v)
	case "cycle_time_p50":
		return "the median task took " + fmtLong(m, v) + " from start to done"
	case "on_time_ratio":
		return fmtValue(m, v) + " of tasks with a due date were delivered on time"
	case "response_within_sla_ratio":
		return fmtValue(m, v) + " of requests were answered within the agreed response time"
	default:
		return m.Title + " was " + fmtLong(m, v)
	}
}

func fmtSLA(d time.Duration) string {
	if d <= 0 {
		return "response time"
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	return s + " response time"
}

func pl(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (b *builder) quality() qualityView {
	var q qualityView
	q.Accepted = b.d.Quality.Accepted
	for r, n := range b.d.Quality.Refused {
		q.Refused += n
		q.Reasons = append(q.Reasons, reasonView{Reason: r, Meaning: reasonMeaning[r], Count: n})
	}
	sort.Slice(q.Reasons, func(i, j int) bool {
		if q.Reasons[i].Count != q.Reasons[j].Count {
			return q.Reasons[i].Count > q.Reasons[j].Count
		}
		return q.Reasons[i].Reason < q.Reasons[j].Reason
	})
	q.AcceptedText, q.RefusedText = thousands(q.Accepted), thousands(q.Refused)
	if b.d.Quality.AcceptedWithheld {
		q.Accepted, q.AcceptedText = 0, "An undisclosed number of"
	}
	for i := range q.Reasons {
		q.Reasons[i].CountText = thousands(q.Reasons[i].Count)
	}
	return q
}

func (b *builder) methods() []methodView {
	var out []methodView
	for _, m := range b.d.Catalog {
		better := "neither: context, not a target"
		switch m.Direction {
		case outcome.HigherIsBetter:
			better = "higher"
		case outcome.LowerIsBetter:
			better = "lower"
		}
		out = append(out, methodView{Title: m.Title, Help: m.Help, Definition: m.Definition, Unit: string(m.Unit), Better: better,
			Counts: familyPeople[m.Family]})
	}
	return out
}

var familyPeople = map[outcome.Family]string{
	outcome.Flow:  "people who created, started or completed the tasks",
	outcome.Time:  "people who logged time",
	outcome.Async: "requesters and responders",
}
