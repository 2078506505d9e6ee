package report

import (
	"bytes"
	"encoding/csv"

	"github.com/shoal-analytics/shoal/outcome"
)

// csvHeader is the CSV report's columns. value, previous and change are in
// the metric's base unit (measure): seconds, a ratio from 0 to 1, or a
// count; they are empty when suppressed or when the week has nothing to
// measure. They are numbers Shoal formats itself (csvNumber: digits, a
// point, a leading minus for a fall), so they are written as they are and
// a spreadsheet reads a fall as the negative number it is; every other
// column goes through csvText, as unit and team are data (ids from the
// teams file and the events).
var csvHeader = []string{"week", "level", "unit", "team", "metric", "value", "previous", "change", "suppressed", "measure"}

// writeCSV writes one row per org, unit and team cell of the report week
// and metric. A week without data has the header only.
func writeCSV(buf *bytes.Buffer, b *builder) error {
	w := csv.NewWriter(buf)
	w.UseCRLF = true // what spreadsheets expect (RFC 4180)
	if err := w.Write(csvHeader); err != nil {
		return err
	}
	week := b.d.Week.String()
	for _, m := range b.d.Catalog {
		type pair struct{ cur, prev cellKey }
		keys := []pair{{orgKey(b.week, m.ID), orgKey(b.prev, m.ID)}}
		for _, u := range b.units {
			keys = append(keys, pair{unitKey(b.week, u.ID, m.ID), unitKey(b.prev, u.ID, m.ID)})
		}
		for _, t := range b.teams {
			keys = append(keys, pair{teamKey(b.week, t, m.ID), teamKey(b.prev, t, m.ID)})
		}
		for _, k := range keys {
			v, st, _ := b.cells.get(k.cur)
			if st == absent {
				continue
			}
			var value, previous, chg string
			suppressed := "false"
			switch st {
			case withheld:
				suppressed = "true"
			case shown:
				value = csvNumber(m, v)
				if pv, pst, _ := b.cells.get(k.prev); pst == shown {
					previous = csvNumber(m, pv)
					chg = csvNumber(m, v-pv)
				}
			}
			level := string(k.cur.level)
			unit := k.cur.unit
			if k.cur.level == outcome.LevelOrg {
				unit = ""
			}
			row := []string{csvText(week), csvText(level), csvText(unit), csvText(k.cur.team), csvText(m.ID), value, previous, chg, csvText(suppressed), csvText(string(m.Unit))}
			if err := w.Write(row); err != nil {
				return err
			}
		}
	}
	w.Flush()
	return w.Error()
}

// csvText neutralises a text cell a spreadsheet would read as a formula
// (OWASP's CSV injection rule): a cell that begins with =, +, -, @, a tab
// or a carriage return gets a leading single quote, so Excel, LibreOffice
// and Google Sheets show it as the text it is. encoding/csv then quotes
// what needs quoting.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
