package outcome

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown writes the catalog as docs/metrics.md: the reference that
// says exactly what every number Shoal shows means.
func WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# Shoal's outcome metrics\n\n")
	b.WriteString("<!-- Generated from outcome/catalog.go by `go test ./outcome -run TestMetricsDoc -update`; do not edit. -->\n\n")
	b.WriteString("Every metric is a team, unit or org aggregate over one window: the " + Window + ".\n")
	b.WriteString("None is ever computed or shown for a person. A cell is shown only when at least k distinct people\n")
	b.WriteString("(default 5) contributed to it: for flow metrics, people who acted on the tasks; for time metrics,\n")
	b.WriteString("people who logged time; for async metrics, requesters and responders. A team below k is rolled\n")
	b.WriteString("up into its unit, and a sibling is hidden too where the hidden team could otherwise be derived\n")
	b.WriteString("from the unit total (complementary suppression). Every output shows released weeks only: a week\n")
	b.WriteString("is decided once, after it has ended plus a settle delay, and never changes; `/metrics` exports the\n")
	b.WriteString("last released week, values rounded to three significant digits (see docs/privacy.md).\n\n")
	b.WriteString("| metric | Prometheus name | unit | better | people counted |\n| --- | --- | --- | --- | --- |\n")
	for _, m := range Catalog {
		fmt.Fprintf(&b, "| [%s](#%s) | `%s` | %s | %s | %s |\n", m.Title, m.ID, m.Name, m.Unit, direction(m.Direction), m.Family)
	}
	for _, m := range Catalog {
		fmt.Fprintf(&b, "\n## %s\n<a id=\"%s\"></a>\n\n%s\n\n- **Definition:** %s\n- **Prometheus:** `%s{team, unit}` (gauge, %s; the last released week)\n- **Better:** %s\n- **Counts towards k:** %s people\n",
			m.Title, m.ID, m.Help, m.Definition, m.Name, m.Unit, direction(m.Direction), m.Family)
		if m.MinSamples > 0 {
			fmt.Fprintf(&b, "- **Released over at least:** %d values (fewer are withheld as `few_samples`: a percentile of one or two values is those values)\n", m.MinSamples)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func direction(d Direction) string {
	switch d {
	case HigherIsBetter:
		return "higher"
	case LowerIsBetter:
		return "lower"
	default:
		return "neither"
	}
}
