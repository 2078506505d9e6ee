package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Query is one PromQL expression of a dashboard JSON: a panel target or a
// template variable's query.
type Query struct {
	Panel string // panel title, or "variable NAME"
	RefID string
	Expr  string
	// Variable is true for a template variable; Expr is then the PromQL
	// equivalent of its label_values(selector, label) query.
	Variable bool
}

var labelValuesRe = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// Queries lists every PromQL expression in a dashboard JSON, from the JSON
// itself (panels, panels inside rows, template variables), so that a test
// can run each against a real Prometheus.
func Queries(raw []byte) ([]Query, error) {
	var d struct {
		Panels     []jsonPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	var out []Query
	var walk func(ps []jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				out = append(out, Query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(string)
		if !ok {
			if m, isMap := v.Query.(map[string]any); isMap {
				q, _ = m["query"].(string)
			}
		}
		m := labelValuesRe.FindStringSubmatch(strings.TrimSpace(q))
		if m == nil {
			return nil, fmt.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
		}
		out = append(out, Query{Panel: "variable " + v.Name, Expr: "group by (" + m[2] + ") (" + m[1] + ")", Variable: true})
	}
	return out, nil
}

type jsonPanel struct {
	Title   string      `json:"title"`
	Panels  []jsonPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}
