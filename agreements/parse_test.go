package agreements

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/privacy"
)

const exampleFile = "../docs/teams.example.yaml"

var mondayToFriday = defaultWorkingDays

func days(ds ...time.Weekday) [7]bool {
	var out [7]bool
	for _, d := range ds {
		out[d] = true
	}
	return out
}

func mustParse(t *testing.T, yaml string) *Org {
	t.Helper()
	o, err := Parse("teams.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return o
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

const inheritanceFile = `
min_group_size: 7
defaults:
  timezone: Europe/Berlin
  response_sla: 12h
  working_days: Mon-Thu
units:
  - id: platform
    name: Platform
    defaults:
      timezone: America/New_York
      focus_block_min: 2h
    teams:
      - id: payments
        name: Payments
        response_sla: 8h
      - id: identity
        overwork_hours_per_day: 9h
        working_days: [Sun-Thu]
  - id: product
    teams:
      - id: web
`

func TestParseInheritance(t *testing.T) {
	o := mustParse(t, inheritanceFile)
	if got := o.MinGroupSize(); got != 7 {
		t.Errorf("MinGroupSize = %d, want 7", got)
	}
	if got := o.Policy().K; got != 7 {
		t.Errorf("Policy().K = %d, want 7", got)
	}
	ny, berlin := mustZone(t, "America/New_York"), mustZone(t, "Europe/Berlin")
	monThu := days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday)
	for _, tc := range []struct {
		name string
		team string
		want Agreement
	}{
		{"team value beats unit and org", "payments", Agreement{Team: "payments", Unit: "platform", TeamName: "Payments", UnitName: "Platform",
			Location: ny, TimeZone: "America/New_York", ResponseSLA: 8 * time.Hour, WorkingDays: monThu,
			FocusBlockMin: 2 * time.Hour, OverworkPerDay: DefaultOverworkPerDay, Listed: true}},
		{"unit defaults beat org defaults", "identity", Agreement{Team: "identity", Unit: "platform", TeamName: "identity", UnitName: "Platform",
			Location: ny, TimeZone: "America/New_York", ResponseSLA: 12 * time.Hour,
			WorkingDays:   days(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday),
			FocusBlockMin: 2 * time.Hour, OverworkPerDay: 9 * time.Hour, Listed: true}},
		{"org defaults beat built-in", "web", Agreement{Team: "web", Unit: "product", TeamName: "web", UnitName: "product",
			Location: berlin, TimeZone: "Europe/Berlin", ResponseSLA: 12 * time.Hour, WorkingDays: monThu,
			FocusBlockMin: DefaultFocusBlockMin, OverworkPerDay: DefaultOverworkPerDay, Listed: true}},
		{"unknown team gets org defaults in unassigned", "ghosts", Agreement{Team: "ghosts", Unit: UnassignedUnit, TeamName: "ghosts", UnitName: UnassignedUnit,
			Location: berlin, TimeZone: "Europe/Berlin", ResponseSLA: 12 * time.Hour, WorkingDays: monThu,
			FocusBlockMin: DefaultFocusBlockMin, OverworkPerDay: DefaultOverworkPerDay, Listed: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := o.Team(tc.team)
			if got.Location.String() != tc.want.Location.String() {
				t.Errorf("Location = %v, want %v", got.Location, tc.want.Location)
			}
			got.Location, tc.want.Location = nil, nil
			if got != tc.want {
				t.Errorf("Team(%q) =\n %+v\nwant\n %+v", tc.team, got, tc.want)
			}
			if u := o.UnitOf(tc.team); u != tc.want.Unit {
				t.Errorf("UnitOf = %q, want %q", u, tc.want.Unit)
			}
			if l := o.Location(tc.team); l.String() != tc.want.TimeZone {
				t.Errorf("Location(%q) = %v, want %v", tc.team, l, tc.want.TimeZone)
			}
		})
	}

	wantUnits := []Unit{{ID: "platform", Name: "Platform", Teams: []string{"payments", "identity"}}, {ID: "product", Name: "product", Teams: []string{"web"}}}
	units := o.Units()
	if !slices.EqualFunc(units, wantUnits, func(a, b Unit) bool { return a.ID == b.ID && a.Name == b.Name && slices.Equal(a.Teams, b.Teams) }) {
		t.Errorf("Units() = %+v, want %+v", units, wantUnits)
	}
	var ids []string
	for _, a := range o.Teams() {
		ids = append(ids, a.Team)
	}
	if want := []string{"payments", "identity", "web"}; !slices.Equal(ids, want) {
		t.Errorf("Teams() = %v, want %v", ids, want)
	}
}

func TestOrgIsImmutable(t *testing.T) {
	o := mustParse(t, inheritanceFile)
	units, teams := o.Units(), o.Teams()
	units[0].ID, units[0].Teams[0] = "changed", "changed"
	teams[0].ResponseSLA = time.Minute
	a := o.Team("payments")
	a.ResponseSLA = time.Second
	if o.Units()[0].ID != "platform" || o.Units()[0].Teams[0] != "payments" {
		t.Error("changing the result of Units() changed the Org")
	}
	if o.Team("payments").ResponseSLA != 8*time.Hour || o.Teams()[0].ResponseSLA != 8*time.Hour {
		t.Error("changing the result of Teams() or Team() changed the Org")
	}
}

func TestDefault(t *testing.T) {
	o := Default()
	if o.MinGroupSize() != privacy.DefaultMinGroupSize {
		t.Errorf("MinGroupSize = %d, want %d", o.MinGroupSize(), privacy.DefaultMinGroupSize)
	}
	if len(o.Units()) != 0 || len(o.Teams()) != 0 {
		t.Errorf("Default has units %v and teams %v, want none", o.Units(), o.Teams())
	}
	want := Agreement{Team: "anyone", Unit: UnassignedUnit, TeamName: "anyone", UnitName: UnassignedUnit, TimeZone: "UTC",
		ResponseSLA: 24 * time.Hour, WorkingDays: mondayToFriday, FocusBlockMin: 90 * time.Minute, OverworkPerDay: 10 * time.Hour}
	got := o.Team("anyone")
	if got.Location != time.UTC {
		t.Errorf("Location = %v, want UTC", got.Location)
	}
	got.Location = nil
	if got != want {
		t.Errorf("Team = %+v, want %+v", got, want)
	}
}

func TestParseWorkingDays(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        [7]bool
	}{
		{"list", "[Mon, Tue, Wed, Thu, Fri]", mondayToFriday},
		{"hyphen range", "Mon-Fri", mondayToFriday},
		{"en dash range", "Mon–Fri", mondayToFriday},
		{"em dash range", "Mon—Fri", mondayToFriday},
		{"spaces around the dash", `"Mon - Fri"`, mondayToFriday},
		{"range wrapping the weekend", "Sun-Thu", days(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday)},
		{"range wrapping Saturday to Sunday", "Fri-Mon", days(time.Friday, time.Saturday, time.Sunday, time.Monday)},
		{"full names, any case", "[monday, TUESDAY, Wednesday]", days(time.Monday, time.Tuesday, time.Wednesday)},
		{"comma separated", "Mon, Wed, Fri", days(time.Monday, time.Wednesday, time.Friday)},
		{"ranges inside a list", "[Mon-Tue, Thu–Fri]", days(time.Monday, time.Tuesday, time.Thursday, time.Friday)},
		{"one day", "Sat", days(time.Saturday)},
		{"single-day range", "Wed-Wed", days(time.Wednesday)},
		{"every day", "Mon-Sun", days(0, 1, 2, 3, 4, 5, 6)},
		{"repeats are harmless", "[Mon, Mon, Mon-Tue]", days(time.Monday, time.Tuesday)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := mustParse(t, "units:\n  - id: u\n    teams:\n      - id: t\n        working_days: "+tc.value+"\n")
			if got := o.Team("t").WorkingDays; got != tc.want {
				t.Errorf("working_days %s = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"24h", 24 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"2d", 48 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1d30m", 24*time.Hour + 30*time.Minute},
		{"1.5d", 36 * time.Hour},
		{"0.5h", 30 * time.Minute},
		{`"3d"`, 72 * time.Hour},
		{"3650d", 3650 * 24 * time.Hour},
	} {
		t.Run(tc.value, func(t *testing.T) {
			o := mustParse(t, "defaults:\n  response_sla: "+tc.value+"\n")
			if got := o.Team("x").ResponseSLA; got != tc.want {
				t.Errorf("response_sla %s = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{"only min_group_size", "min_group_size: 3\n"},
		{"null sections", "defaults:\nunits:\n"},
		{"empty units", "units: []\n"},
		{"unit without teams", "units:\n  - id: empty\n"},
		{"alias for a value", "defaults:\n  timezone: &tz Asia/Tokyo\nunits:\n  - id: u\n    defaults:\n      timezone: *tz\n"},
		{"quoted values", "defaults:\n  timezone: \"UTC\"\n  response_sla: '8h'\n"},
		{"longest id", "units:\n  - id: " + strings.Repeat("a", 128) + "\n"},
		{"same id for a unit and a team", "units:\n  - id: data\n    teams:\n      - id: data\n"},
		{"unicode display names", "units:\n  - id: u\n    name: Équipe Zürich 🚀\n"},
	} {
		t.Run(tc.name, func(t *testing.T) { mustParse(t, tc.yaml) })
	}
}

// TestParsePolicy: dominance_p and min_contribution set the policy and
// the floors; a key left out keeps its default.
func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		yaml   string
		p      float64
		floors privacy.Floors
	}{
		{"no keys: the defaults", "units: []\n", privacy.DefaultDominanceP, privacy.DefaultFloors()},
		{"all set", "dominance_p: 12.5\nmin_contribution:\n  flow_tasks: 3\n  time_logged: 30m\n  async_requests: 1\n",
			12.5, privacy.Floors{FlowTasks: 3, TimeLogged: 30 * time.Minute, AsyncRequests: 1}},
		{"a percent sign", "dominance_p: 15%\n", 15, privacy.DefaultFloors()},
		{"the bounds", "dominance_p: 100\nmin_contribution:\n  time_logged: 24h\n  flow_tasks: 1000\n",
			100, privacy.Floors{FlowTasks: 1000, TimeLogged: 24 * time.Hour, AsyncRequests: privacy.DefaultFloorAsyncRequests}},
		{"one floor: the others keep their defaults", "dominance_p: 5\nmin_contribution:\n  time_logged: 2h\n",
			5, privacy.Floors{FlowTasks: privacy.DefaultFloorFlowTasks, TimeLogged: 2 * time.Hour, AsyncRequests: privacy.DefaultFloorAsyncRequests}},
		{"an empty block", "min_contribution:\n", privacy.DefaultDominanceP, privacy.DefaultFloors()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := mustParse(t, tc.yaml)
			if got := o.Policy(); got.P != tc.p || got.K != privacy.DefaultMinGroupSize {
				t.Errorf("Policy() = %+v, want K %d, P %g", got, privacy.DefaultMinGroupSize, tc.p)
			}
			if got := o.Floors(); got != tc.floors {
				t.Errorf("Floors() = %+v, want %+v", got, tc.floors)
			}
		})
	}
	d := Default()
	if d.Policy().P != privacy.DefaultDominanceP || d.Floors() != privacy.DefaultFloors() {
		t.Errorf("Default(): policy %+v, floors %+v", d.Policy(), d.Floors())
	}
}

// badFiles lists every testdata/*.bad.yaml file with the exact errors it
// must produce, in order, and the sentinels they wrap.
var badFiles = []struct {
	file  string
	want  []string
	kinds []error
}{
	{"unknown_key.bad.yaml", []string{
		`testdata/unknown_key.bad.yaml:5: units[0].teams[0].responce_sla: unknown key; did you mean response_sla? (allowed here: id, name, timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
	}, []error{ErrUnknownKey}},
	{"misplaced_keys.bad.yaml", []string{
		`testdata/misplaced_keys.bad.yaml:1: timezone: unknown key here; put org-wide settings under "defaults" (allowed here: min_group_size, dominance_p, min_contribution, defaults, units)`,
		`testdata/misplaced_keys.bad.yaml:3: defaults.id: unknown key here; "defaults" holds only settings (allowed here: timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
		`testdata/misplaced_keys.bad.yaml:6: units[0].response_sla: unknown key here; put settings for all of the unit's teams under the unit's "defaults" (allowed here: id, name, defaults, teams)`,
		`testdata/misplaced_keys.bad.yaml:9: units[0].teams[0].defaults: unknown key here; a team sets its keys directly (e.g. response_sla: 8h), without "defaults" (allowed here: id, name, timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
		`testdata/misplaced_keys.bad.yaml:11: units[0].teams[0].units: unknown key here; teams do not nest: list every team under its unit's teams (allowed here: id, name, timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
	}, []error{ErrUnknownKey}},
	{"merge_key.bad.yaml", []string{
		`testdata/merge_key.bad.yaml:7: units[0].teams[1].<<: YAML merge keys (<<) are not supported; write the keys out, or share settings through "defaults"`,
	}, []error{ErrUnknownKey}},
	{"duplicate_key.bad.yaml", []string{
		`testdata/duplicate_key.bad.yaml:7: units[0].teams[0].response_sla: repeats the key of line 6; keep one of them`,
		`testdata/duplicate_key.bad.yaml:8: min_group_size: repeats the key of line 1; keep one of them`,
	}, []error{ErrDuplicateKey}},
	{"bad_timezone.bad.yaml", []string{
		`testdata/bad_timezone.bad.yaml:2: defaults.timezone: "Europe/Berln" is not a time zone; write an IANA name such as Europe/Berlin, America/New_York or UTC (names are case-sensitive)`,
		`testdata/bad_timezone.bad.yaml:6: units[0].defaults.timezone: "Local" is not a time zone; write an IANA name such as Europe/Berlin, America/New_York or UTC`,
		`testdata/bad_timezone.bad.yaml:9: units[0].teams[0].timezone: "europe/berlin" is not a time zone; write an IANA name such as Europe/Berlin, America/New_York or UTC (names are case-sensitive)`,
		`testdata/bad_timezone.bad.yaml:11: units[0].teams[1].timezone: "" is not a time zone; write an IANA name such as Europe/Berlin, America/New_York or UTC`,
	}, []error{ErrBadTimeZone}},
	{"bad_duration.bad.yaml", []string{
		`testdata/bad_duration.bad.yaml:14: units[1].teams[0].response_sla: "fast" is not a duration; write e.g. 24h, 90m or 2d`,
		`testdata/bad_duration.bad.yaml:16: units[1].teams[1].focus_block_min: "90" is not a duration; write e.g. 24h, 90m or 2d`,
		`testdata/bad_duration.bad.yaml:17: units[1].teams[1].overwork_hours_per_day: "1d-2h" is not a duration; write e.g. 24h, 90m or 2d`,
	}, []error{ErrBadDuration}},
	{"nonpositive_duration.bad.yaml", []string{
		`testdata/nonpositive_duration.bad.yaml:2: defaults.response_sla: "0s" must be longer than zero; write e.g. 24h, 90m or 2d`,
		`testdata/nonpositive_duration.bad.yaml:7: units[0].teams[0].focus_block_min: "-30m" must be longer than zero; write e.g. 24h, 90m or 2d`,
		`testdata/nonpositive_duration.bad.yaml:8: units[0].teams[0].overwork_hours_per_day: "0d" must be longer than zero; write e.g. 24h, 90m or 2d`,
	}, []error{ErrBadDuration}},
	{"too_long.bad.yaml", []string{
		`testdata/too_long.bad.yaml:5: units[0].teams[0].overwork_hours_per_day: "25h" is longer than a day; write at most 24h`,
		`testdata/too_long.bad.yaml:6: units[0].teams[0].focus_block_min: "2d" is longer than a day; write at most 24h`,
		`testdata/too_long.bad.yaml:7: units[0].teams[0].response_sla: "4000d" is too long; write at most 3650d`,
	}, []error{ErrBadDuration}},
	{"bad_weekday.bad.yaml", []string{
		`testdata/bad_weekday.bad.yaml:2: defaults.working_days[1]: "Mnday" is not a weekday or a range of weekdays; write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri`,
		`testdata/bad_weekday.bad.yaml:2: defaults.working_days[2]: "Tue-Frday" is not a weekday or a range of weekdays; write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri`,
		`testdata/bad_weekday.bad.yaml:7: units[0].teams[0].working_days: "Mon-Fry" is not a weekday or a range of weekdays; write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri`,
		`testdata/bad_weekday.bad.yaml:9: units[0].teams[1].working_days: "Funday" is not a weekday or a range of weekdays; write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri`,
		`testdata/bad_weekday.bad.yaml:11: units[0].teams[2].working_days: must be a list of weekdays such as [Mon, Tue, Wed, Thu, Fri] or a range such as Mon-Fri, got a mapping (key: value lines)`,
	}, []error{ErrBadWorkingDays}},
	{"empty_working_days.bad.yaml", []string{
		`testdata/empty_working_days.bad.yaml:2: defaults.working_days: is empty; list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri] or Mon-Fri`,
		`testdata/empty_working_days.bad.yaml:6: units[0].defaults.working_days: is empty; list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri] or Mon-Fri`,
		`testdata/empty_working_days.bad.yaml:9: units[0].teams[0].working_days: is empty; list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri] or Mon-Fri`,
	}, []error{ErrBadWorkingDays}},
	{"duplicate_team.bad.yaml", []string{
		`testdata/duplicate_team.bad.yaml:9: units[1].teams[1].id: team "payments" is already listed at line 4 (units[0].teams[0]); a team belongs to exactly one unit: remove one of them`,
	}, []error{ErrDuplicateID}},
	{"duplicate_unit.bad.yaml", []string{
		`testdata/duplicate_unit.bad.yaml:5: units[1].id: unit "platform" is already listed at line 2 (units[0]); give each unit its own id, or merge their teams into one`,
	}, []error{ErrDuplicateID}},
	{"missing_id.bad.yaml", []string{
		`testdata/missing_id.bad.yaml:2: units[0].id: missing; every unit needs an id, e.g. id: platform`,
		`testdata/missing_id.bad.yaml:4: units[0].teams[0].id: missing; every team needs an id, e.g. id: payments-team`,
		`testdata/missing_id.bad.yaml:5: units[0].teams[1].id: is empty; every team needs an id, e.g. id: payments`,
		`testdata/missing_id.bad.yaml:6: units[0].teams[2].id: is empty; every team needs an id, e.g. id: payments`,
	}, []error{ErrBadID}},
	{"bad_id.bad.yaml", []string{
		`testdata/bad_id.bad.yaml:2: units[0].id: "Platform" is not a valid id; use up to 128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. platform`,
		`testdata/bad_id.bad.yaml:4: units[0].teams[0].id: "Payments Team" is not a valid id; use up to 128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. payments-team`,
		`testdata/bad_id.bad.yaml:5: units[0].teams[1].id: "-identity" is not a valid id; use up to 128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. identity`,
		`testdata/bad_id.bad.yaml:6: units[0].teams[2].id: must be a single word, got a list; write e.g. id: payments`,
	}, []error{ErrBadID}},
	{"reserved_unit.bad.yaml", []string{
		`testdata/reserved_unit.bad.yaml:2: units[0].id: "unassigned" is reserved for teams the file does not list; choose another id`,
	}, []error{ErrBadID}},
	{"min_group_size.bad.yaml", []string{
		`testdata/min_group_size.bad.yaml:1: min_group_size: 2 is below the floor of 3: a cell built from fewer people lets a reader single one person out; set 3 or more (default 5)`,
	}, []error{privacy.ErrMinGroupSize}},
	{"min_group_size_not_number.bad.yaml", []string{
		`testdata/min_group_size_not_number.bad.yaml:1: min_group_size: "five" is not a whole number; write e.g. 5 (the default)`,
	}, []error{ErrBadValue}},
	{"dominance_p.bad.yaml", []string{
		`testdata/dominance_p.bad.yaml:1: dominance_p: 3 is below the floor of 5: the rule would let the second-largest contributor estimate the largest to within less than 5 %, which protects nobody; set 5 to 100 (default 10)`,
	}, []error{privacy.ErrDominanceP}},
	{"dominance_p_high.bad.yaml", []string{
		`testdata/dominance_p_high.bad.yaml:2: dominance_p: 150 is above 100: it is a percentage of the largest contribution; set 5 to 100 (default 10)`,
	}, []error{privacy.ErrDominanceP}},
	{"dominance_p_not_number.bad.yaml", []string{
		`testdata/dominance_p_not_number.bad.yaml:1: dominance_p: "ten percent" is not a number; write a percentage such as 10 (the default)`,
	}, []error{ErrBadValue}},
	{"min_contribution.bad.yaml", []string{
		`testdata/min_contribution.bad.yaml:2: min_contribution.flow_tasks: 0 would count people who did nothing in the family (presence, not contribution); write 1 or more (default 2)`,
		`testdata/min_contribution.bad.yaml:3: min_contribution.time_logged: "25h" is longer than a day; write at most 24h`,
		`testdata/min_contribution.bad.yaml:4: min_contribution.async_requests: "two" is not a whole number; write e.g. 2 (the default: requests opened plus requests answered)`,
		`testdata/min_contribution.bad.yaml:5: min_contribution.flow_task: unknown key; did you mean flow_tasks? (allowed here: flow_tasks, time_logged, async_requests)`,
	}, []error{ErrBadValue, ErrBadDuration, ErrUnknownKey}},
	{"misplaced_policy.bad.yaml", []string{
		`testdata/misplaced_policy.bad.yaml:1: flow_tasks: unknown key here; put contribution floors under "min_contribution" (allowed here: min_group_size, dominance_p, min_contribution, defaults, units)`,
		`testdata/misplaced_policy.bad.yaml:3: defaults.dominance_p: unknown key here; this key belongs at the top of the file: the privacy rules are the same for every team (allowed here: timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
		`testdata/misplaced_policy.bad.yaml:6: units[0].min_contribution: unknown key here; this key belongs at the top of the file: the privacy rules are the same for every team (allowed here: id, name, defaults, teams)`,
		`testdata/misplaced_policy.bad.yaml:10: units[0].teams[0].min_group_size: unknown key here; this key belongs at the top of the file: the privacy rules are the same for every team (allowed here: id, name, timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
	}, []error{ErrUnknownKey}},
	{"wrong_shape.bad.yaml", []string{
		`testdata/wrong_shape.bad.yaml:1: defaults: must be a mapping of settings (timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day), got "24h"`,
		`testdata/wrong_shape.bad.yaml:4: units[0].teams: must be a list of teams (lines starting with "- id: ..."), got "payments"`,
		`testdata/wrong_shape.bad.yaml:5: units[1]: must be a unit (id, name, defaults, teams), got "just-a-string"`,
		`testdata/wrong_shape.bad.yaml:8: units[2].teams[0]: must be a team (id, name and settings), got "web"`,
	}, []error{ErrBadValue}},
	{"syntax.bad.yaml", []string{
		`testdata/syntax.bad.yaml:3: invalid YAML: found a tab character that violates indentation; check the indentation (spaces, not tabs), colons and quotes around values with special characters`,
	}, []error{ErrSyntax}},
	{"unclosed_bracket.bad.yaml", []string{
		`testdata/unclosed_bracket.bad.yaml:6: invalid YAML: did not find expected ',' or ']'; check the indentation (spaces, not tabs), colons and quotes around values with special characters`,
	}, []error{ErrSyntax}},
	{"two_documents.bad.yaml", []string{
		`testdata/two_documents.bad.yaml:3: a second YAML document starts here; keep one document (no ---) per teams file`,
	}, []error{ErrSyntax}},
	{"empty.bad.yaml", []string{
		`testdata/empty.bad.yaml: the file is empty; list your units and teams (see docs/teams.example.yaml), or drop --teams to use the built-in defaults`,
	}, []error{ErrEmpty}},
	// Every kind of mistake at once: all are reported, in file order.
	{"many_errors.bad.yaml", []string{
		`testdata/many_errors.bad.yaml:2: min_group_size: 1 is below the floor of 3: a cell built from fewer people lets a reader single one person out; set 3 or more (default 5)`,
		`testdata/many_errors.bad.yaml:4: defaults.timezone: "Mars/Olympus" is not a time zone; write an IANA name such as Europe/Berlin, America/New_York or UTC (names are case-sensitive)`,
		`testdata/many_errors.bad.yaml:5: defaults.response_sla: "soon" is not a duration; write e.g. 24h, 90m or 2d`,
		`testdata/many_errors.bad.yaml:6: defaults.working_days[4]: "Fry" is not a weekday or a range of weekdays; write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri`,
		`testdata/many_errors.bad.yaml:8: units[0].id: "Platform" is not a valid id; use up to 128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. platform`,
		`testdata/many_errors.bad.yaml:10: units[0].defaults.focus_block_min: "-1h" must be longer than zero; write e.g. 24h, 90m or 2d`,
		`testdata/many_errors.bad.yaml:13: units[0].teams[0].responce_sla: unknown key; did you mean response_sla? (allowed here: id, name, timezone, response_sla, working_days, focus_block_min, overwork_hours_per_day)`,
		`testdata/many_errors.bad.yaml:15: units[0].teams[1].overwork_hours_per_day: "30h" is longer than a day; write at most 24h`,
		`testdata/many_errors.bad.yaml:18: units[1].teams[0].id: team "payments" is already listed at line 12 (units[0].teams[0]); a team belongs to exactly one unit: remove one of them`,
		`testdata/many_errors.bad.yaml:19: units[1].teams[1].id: missing; every team needs an id, e.g. id: web`,
		`testdata/many_errors.bad.yaml:20: units[1].teams[1].working_days: is empty; list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri] or Mon-Fri`,
		`testdata/many_errors.bad.yaml:21: units[2].id: unit "product" is already listed at line 16 (units[1]); give each unit its own id, or merge their teams into one`,
		`testdata/many_errors.bad.yaml:22: units[2].colour: unknown key (allowed here: id, name, defaults, teams)`,
	}, []error{privacy.ErrMinGroupSize, ErrBadTimeZone, ErrBadDuration, ErrBadWorkingDays, ErrBadID, ErrUnknownKey, ErrDuplicateID}},
}

func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, tc := range badFiles {
		listed = append(listed, filepath.Join("testdata", tc.file))
	}
	for _, f := range files {
		if !slices.Contains(listed, f) {
			t.Errorf("%s has no entry in badFiles: add the errors it must produce", f)
		}
	}
	for _, tc := range badFiles {
		t.Run(strings.TrimSuffix(tc.file, ".bad.yaml"), func(t *testing.T) {
			o, err := Load(filepath.Join("testdata", tc.file))
			if err == nil {
				t.Fatalf("Load succeeded, want %d errors", len(tc.want))
			}
			if o != nil {
				t.Error("Load returned an Org together with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, kind := range tc.kinds {
				if !errors.Is(err, kind) {
					t.Errorf("errors.Is(err, %v) = false", kind)
				}
			}
			var fe *Error
			if !errors.As(err, &fe) || fe.File != filepath.Join("testdata", tc.file) {
				t.Errorf("errors.As(*Error) gave %+v, want the file name", fe)
			}
		})
	}
}

// TestAliasBomb: a few lines of nested aliases must not make Parse
// quadratic; the alias budget stops the walk with one clear error.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("units:\n  - &u\n    id: u\n    teams: &ts\n      - &t {id: t, working_days: &w [" + strings.Repeat("Mon, ", 500) + "Mon]}\n")
	for range 500 {
		b.WriteString("      - *t\n")
	}
	for range 500 {
		b.WriteString("  - *u\n")
	}
	start := time.Now()
	_, err := Parse("bomb.yaml", []byte(b.String()))
	if err == nil || !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), "write the values out instead") {
		t.Fatalf("Parse(alias bomb) did not stop at the alias budget: %.300v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Parse(alias bomb) took %v", el)
	}
}

// TestLargeOrg: a big file without aliases stays well inside the budget.
func TestLargeOrg(t *testing.T) {
	var b strings.Builder
	b.WriteString("units:\n")
	for u := range 50 {
		fmt.Fprintf(&b, "  - id: unit-%d\n    name: Unit %d\n    defaults: {timezone: Europe/Berlin, response_sla: 1d}\n    teams:\n", u, u)
		for tm := range 100 {
			fmt.Fprintf(&b, "      - {id: team-%d-%d, name: Team %d, timezone: Asia/Tokyo, response_sla: 8h, working_days: [Mon, Tue, Wed, Thu, Fri], focus_block_min: 2h, overwork_hours_per_day: 9h}\n", u, tm, tm)
		}
	}
	o := mustParse(t, b.String())
	if n := len(o.Teams()); n != 5000 {
		t.Fatalf("%d teams, want 5000", n)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("Load(missing) = %v, want a not-exist error naming the file", err)
	}
}

func TestParseNameDefault(t *testing.T) {
	_, err := Parse("", []byte("min_group_size: 1\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "teams file:1: min_group_size: ") {
		t.Fatalf("Parse without a name = %v, want it to say \"teams file:1:\"", err)
	}
}

// TestExampleFile keeps docs/teams.example.yaml valid and in step with the
// docs: it must parse, use every key, and agree with the values below.
func TestExampleFile(t *testing.T) {
	o, err := Load(exampleFile)
	if err != nil {
		t.Fatalf("docs/teams.example.yaml must parse:\n%v", err)
	}
	data, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/agreements.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range append(append(append(slices.Clone(topKeys), keyTeams), teamKeys...), floorKeys...) {
		if !strings.Contains(string(data), key+":") {
			t.Errorf("docs/teams.example.yaml does not show the key %s", key)
		}
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/agreements.md does not document the key %s", key)
		}
	}
	if n := len(o.Units()); n < 2 || n > 3 {
		t.Errorf("example has %d units, want 2-3", n)
	}
	if n := len(o.Teams()); n < 5 {
		t.Errorf("example has %d teams, want about 6", n)
	}
	for _, tc := range []struct {
		team, unit, zone string
		sla              time.Duration
		days             [7]bool
	}{
		{"payments", "platform", "Europe/Berlin", 8 * time.Hour, mondayToFriday},
		{"web", "product", "America/New_York", 36 * time.Hour, mondayToFriday},
		{"mobile", "product", "America/New_York", 36 * time.Hour, days(time.Monday, time.Tuesday, time.Wednesday, time.Thursday)},
		{"support-tel-aviv", "operations", "Asia/Jerusalem", 48 * time.Hour, days(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday)},
	} {
		a := o.Team(tc.team)
		if !a.Listed || a.Unit != tc.unit || a.TimeZone != tc.zone || a.ResponseSLA != tc.sla || a.WorkingDays != tc.days {
			t.Errorf("example team %s = %+v, want unit %s, zone %s, sla %v, days %v", tc.team, a, tc.unit, tc.zone, tc.sla, tc.days)
		}
	}
}

func TestSuggestID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Payments Team", "payments-team"},
		{"Identity & Access", "identity-access"},
		{"  Platform  ", "platform"},
		{"-x", "x"},
		{"***", ""},
		{"ok.team_1", "ok.team_1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := suggestID(tc.in); got != tc.want {
				t.Errorf("suggestID(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, exampleFile)
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(inheritanceFile))
	f.Add([]byte("a: &a [*a]\nunits: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := Parse("fuzz.yaml", data)
		if err != nil {
			if o != nil {
				t.Fatal("an Org together with an error")
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line %q does not name the file", line)
				}
			}
			return
		}
		if o.MinGroupSize() < privacy.FloorMinGroupSize {
			t.Fatalf("accepted min_group_size %d", o.MinGroupSize())
		}
		for _, a := range append(o.Teams(), o.Team("not-listed")) {
			if a.Location == nil || a.WorkingDays == [7]bool{} || a.ResponseSLA <= 0 || a.FocusBlockMin <= 0 || a.OverworkPerDay <= 0 || !validID(a.Team) && a.Listed {
				t.Fatalf("accepted a bad agreement %+v", a)
			}
		}
	})
}
