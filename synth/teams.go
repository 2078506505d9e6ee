package synth

import (
	"fmt"
	"strings"
)

// TeamsYAML is the organisation's team agreements file (docs/agreements.md):
// its units, teams and time zones, k = 5 and the built-in defaults.
func (org *Org) TeamsYAML() []byte {
	var b strings.Builder
	b.WriteString("# Team agreements of the synthetic demo organisation, written by `shoal demo`.\n")
	b.WriteString("# See docs/agreements.md and docs/teams.example.yaml.\nmin_group_size: 5\n")
	b.WriteString("defaults:\n  response_sla: 24h\n  working_days: Mon-Fri\n  focus_block_min: 90m\n  overwork_hours_per_day: 10h\nunits:\n")
	tz := map[string]string{}
	for _, t := range org.Teams {
		tz[t.ID] = t.TimeZone
	}
	for _, u := range org.Units {
		fmt.Fprintf(&b, "  - id: %s\n    teams:\n", u.ID)
		for _, t := range u.Teams {
			fmt.Fprintf(&b, "      - id: %s\n        timezone: %s\n", t, tz[t])
		}
	}
	return []byte(b.String())
}
