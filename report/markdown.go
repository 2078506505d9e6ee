package report

import (
	"bytes"
	"fmt"
	"strings"
)

// writeMarkdown writes the same content as the HTML report, with the trend
// charts as tables, for chat and wikis.
func writeMarkdown(buf *bytes.Buffer, v view) error {
	p := func(format string, a ...any) { fmt.Fprintf(buf, format, a...) }
	p("# %s: %s\n\n", v.Title, v.WeekLabel)
	p("%s · week boundaries in %s · figures for groups of at least %d people\n\n", v.Range, v.TimeZone, v.K)
	if v.Partial {
		p("**This week is not over yet:** figures are as of %s and will change.\n\n", v.Generated)
	}
	if v.NoData {
		p("**No outcome can be shown for %s.** Either no tool sent events for this week, or fewer than %d people contributed to every figure. This report shows no figures rather than zeros.\n\n", v.WeekID, v.K)
	} else {
		p("## Executive summary\n\n")
		for _, s := range v.Overview {
			p("%s\n\n", s)
		}
		p("**What improved**\n\n")
		list(buf, v.Improved, "No organisation-wide measure improved notably on "+v.PrevWeekID+".")
		p("**What got worse**\n\n")
		list(buf, v.Worse, "No organisation-wide measure got notably worse on "+v.PrevWeekID+".")
		p("**Response SLA**\n\n")
		p("%s\n\n", v.SLANote)
		if len(v.SLAMissed) > 0 {
			list(buf, v.SLAMissed, "")
		}
		p("| Headline | This week | Change vs %s |\n| --- | ---: | ---: |\n", v.PrevWeekID)
		for _, k := range v.KPIs {
			p("| %s | %s | %s |\n", k.Title, mdCell(k.Cell.Value), k.Cell.Change)
		}
		p("\n## Delivery and responsiveness by unit\n\n")
		mdLevels(buf, v.Headline)
		p("## Teams\n\n")
		if len(v.Teams.Rows) > 0 {
			mdTeams(buf, v.Teams)
		} else {
			p("No team has figures that can be shown this week.\n\n")
		}
		p("Change is against %s: percentage points for shares, per cent otherwise. *Rolled up*: fewer than %d people contributed, so the team's figures count only in its unit's totals. *Hidden*: withheld so that a rolled-up team cannot be worked out from its unit's total. *n/a*: nothing to measure this week.\n\n", v.PrevWeekID, v.K)
		p("## Trends over the last 8 weeks\n\n")
		for _, c := range v.Charts {
			p("**%s**\n\n| | %s |\n| --- |%s\n", c.Title, strings.Join(v.TrendWeeks, " | "), strings.Repeat(" ---: |", len(v.TrendWeeks)))
			for _, r := range c.Rows {
				p("| %s | %s |\n", mdCell(r.Label), strings.Join(r.Values, " | "))
			}
			p("\n")
		}
		p("Weeks without a value that can be shown are marked –, never zero.\n\n")
		p("## Focus and well-being: team conditions\n\n")
		p("These figures describe the conditions teams work in: how much of the time people chose to log was uninterrupted focus, how much went to meetings, and how often days ran long or fell on a non-working day. They are team and unit aggregates built from time people logged themselves, never a measure of any person's performance. Read them as prompts for a conversation about calendars and workload, not as targets.\n\n")
		mdLevels(buf, v.Wellbeing)
		if len(v.TeamConditions.Rows) > 0 {
			p("**By team**\n\n")
			mdTeams(buf, v.TeamConditions)
		}
	}
	p("## Data quality\n\n")
	q := v.Quality
	if q.Refused > 0 {
		p("%s events dated in this week were accepted. %s events were refused during the week and sent to the dead-letter topic, by reason:\n\n| Reason | Events |\n| --- | ---: |\n", q.AcceptedText, q.RefusedText)
		for _, r := range q.Reasons {
			meaning := ""
			if r.Meaning != "" {
				meaning = ": " + r.Meaning
			}
			p("| `%s`%s | %s |\n", r.Reason, meaning, r.CountText)
		}
		p("\n")
	} else {
		p("%s events dated in this week were accepted. No event was refused during the week.\n\n", q.AcceptedText)
	}
	p("## Privacy\n\nA figure is shown only when at least %d people contributed to it.\n\n", v.K)
	if len(v.RolledUp) > 0 {
		p("Rolled up into their unit this week:\n\n")
		list(buf, v.RolledUp, "")
	}
	if len(v.Hidden) > 0 {
		p("Shown only within unit totals, so that no rolled-up team can be worked out by subtraction:\n\n")
		list(buf, v.Hidden, "")
	}
	if len(v.RolledUp) == 0 && len(v.Hidden) == 0 && !v.NoData {
		p("Every team with events this week had at least %d contributors.\n\n", v.K)
	}
	if len(v.Quiet) > 0 {
		p("Not in this week's release (added to the teams file after it): %s.\n\n", strings.Join(v.Quiet, ", "))
	}
	p("## Methodology\n\n")
	p("Each figure is a team, unit or organisation aggregate over the ISO week (Monday to Sunday); a team's figures use its own time zone's days, and the report's week boundaries are those of %s. Unit and organisation figures are computed from all of their teams' events, including teams rolled up for privacy, never by averaging team figures. Suppression: a team with fewer than %d contributors is rolled up into its unit, and where that would let it be derived from the unit total minus its siblings, a sibling is withheld too. A team \"missed its response SLA\" when it answered fewer than %s of requests within the response time it agreed to, counting only its working days.\n\n", v.TimeZone, v.K, v.SLATarget)
	p("%s\n\n", NeverCollected)
	for _, m := range v.Methods {
		p("- **%s**: %s Better: %s. Counts towards k: %s.\n", m.Title, m.Definition, m.Better, m.Counts)
	}
	p("\n")
	if v.Generated != "" {
		p("Generated %s by Shoal.\n", v.Generated)
	}
	return nil
}

func list(buf *bytes.Buffer, items []string, empty string) {
	if len(items) == 0 {
		fmt.Fprintf(buf, "%s\n\n", empty)
		return
	}
	for _, s := range items {
		fmt.Fprintf(buf, "- %s\n", s)
	}
	buf.WriteString("\n")
}

// mdText makes a string from the data (a team or unit name) Markdown text
// that renders as itself: every character CommonMark or GitHub's and
// GitLab's extensions give a meaning (HTML and entities, links, images and
// bare-URL and e-mail autolinks, emphasis, code, tables, block markers,
// math) is backslash-escaped, which CommonMark defines for all ASCII
// punctuation, and line breaks and other control characters become spaces
// so a name cannot start a block of its own.
func mdText(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for _, r := range s {
		switch {
		case r < ' ' || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029:
			b.WriteByte(' ')
		case strings.ContainsRune(mdSpecial, r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdSpecial are the characters mdText escapes.
const mdSpecial = "\\`*_{}[]()<>#+-.!|~&:@$=^\"'"

// mdCell makes s safe in a table cell: a pipe that is not already escaped
// (mdText escapes those of the data) would end the cell.
func mdCell(s string) string {
	if !strings.Contains(s, "|") {
		return s
	}
	var b strings.Builder
	backslashes := 0
	for _, r := range s {
		if r == '|' && backslashes%2 == 0 {
			b.WriteByte('\\')
		}
		if r == '\\' {
			backslashes++
		} else {
			backslashes = 0
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mdValue(c cellView) string {
	v := mdCell(c.Value)
	switch {
	case !c.Shown:
		v = "*" + v + "*"
	case c.Alert:
		v = "**" + v + "**"
	}
	if c.Change != "" {
		v += " (" + c.Change + ")"
	}
	return v
}

func mdLevels(buf *bytes.Buffer, t table) { mdTable(buf, t, "Measure") }

func mdTeams(buf *bytes.Buffer, t table) { mdTable(buf, t, "Team", "Unit") }

// mdTable writes t with its row label (and, with a second label column,
// the row's Sub) before the value columns.
func mdTable(buf *bytes.Buffer, t table, labels ...string) {
	fmt.Fprintf(buf, "| %s | %s |\n|%s%s\n", strings.Join(labels, " | "), strings.Join(mdCells(t.Head), " | "),
		strings.Repeat(" --- |", len(labels)), strings.Repeat(" ---: |", len(t.Head)))
	for _, r := range t.Rows {
		row := []string{mdCell(r.Label)}
		if len(labels) > 1 {
			row = append(row, mdCell(r.Sub))
		}
		for _, c := range r.Cells {
			row = append(row, mdValue(c))
		}
		fmt.Fprintf(buf, "| %s |\n", strings.Join(row, " | "))
	}
	buf.WriteString("\n")
}

func mdCells(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = mdCell(x)
	}
	return out
}
