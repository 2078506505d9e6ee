package outcome

import (
	"strings"
	"testing"
)

func TestCatalogIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Catalog {
		if seen[m.ID] || seen[m.Name] {
			t.Errorf("duplicate %s", m.ID)
		}
		seen[m.ID], seen[m.Name] = true, true
		if !strings.HasPrefix(m.Name, "shoal_") || strings.HasSuffix(m.Name, "_total") {
			t.Errorf("%s: gauges are named shoal_* without _total", m.Name)
		}
		if m.Unit == Seconds && !strings.HasSuffix(m.Name, "_seconds") {
			t.Errorf("%s: a seconds metric must end in _seconds", m.Name)
		}
		if m.Unit == Ratio && !strings.HasSuffix(m.Name, "_ratio") {
			t.Errorf("%s: a ratio metric must end in _ratio", m.Name)
		}
		if m.Help == "" || m.Definition == "" || m.Title == "" || m.Family == "" || m.Direction == "" {
			t.Errorf("%s: incomplete entry", m.ID)
		}
	}
}
