package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shoal-analytics/shoal/outcome"
)

// minus is the typographic minus sign the HTML and Markdown use.
const minus = "−"

// fmtValue formats a shown value compactly, for tables and charts.
func fmtValue(m outcome.Metric, v float64) string {
	switch m.Unit {
	case outcome.Ratio:
		return signed(strconv.FormatFloat(noNegZero(math.Round(v*100)), 'f', 0, 64)) + "%"
	case outcome.Seconds:
		return fmtDuration(v, false)
	case outcome.Blocks:
		return signed(strconv.FormatFloat(v, 'f', 1, 64))
	default:
		return signed(thousands(int64(noNegZero(math.Round(v)))))
	}
}

// fmtLong formats a shown value with its unit spelled out, for sentences.
func fmtLong(m outcome.Metric, v float64) string {
	switch m.Unit {
	case outcome.Tasks:
		return plural(v, "task", "tasks")
	case outcome.Requests:
		return plural(v, "request", "requests")
	case outcome.Blocks:
		return fmtValue(m, v) + " per person"
	case outcome.Seconds:
		return fmtDuration(v, true)
	default:
		return fmtValue(m, v)
	}
}

func plural(v float64, one, many string) string {
	n := math.Round(v)
	if n == 1 {
		return "1 " + one
	}
	return thousands(int64(n)) + " " + many
}

// fmtDuration writes seconds as minutes, hours or days.
func fmtDuration(s float64, long bool) string {
	unit := func(short, one, many string, n float64, prec int) string {
		t := strconv.FormatFloat(n, 'f', prec, 64)
		if !long {
			return signed(t) + " " + short
		}
		if t == "1" || t == "1.0" {
			return signed(t) + " " + one
		}
		return signed(t) + " " + many
	}
	switch a := math.Abs(s); {
	case a < 3600:
		return unit("min", "minute", "minutes", noNegZero(math.Round(s/60)), 0)
	case a < 24*3600:
		return unit("h", "hour", "hours", s/3600, 1)
	default:
		return unit("d", "day", "days", s/86400, 1)
	}
}

func signed(s string) string { return strings.Replace(s, "-", minus, 1) }

// change is a week-over-week comparison of two shown values.
type change struct {
	text  string // "+12%", "−3 pts"; "" when there is nothing to compare
	class string // "better", "worse" or "flat"
	score float64
	up    bool
}

// compare describes the move from prev to cur. Ratios move in percentage
// points; other units relative to prev.
func compare(m outcome.Metric, prev, cur float64) change {
	d := cur - prev
	var c change
	c.up = d > 0
	var moved bool
	if m.Unit == outcome.Ratio {
		pts := math.Round(d * 100)
		switch math.Abs(pts) {
		case 0:
			c.text = "±0 pts"
		case 1:
			c.text = signed(fmt.Sprintf("%+.0f pt", pts))
		default:
			c.text = signed(fmt.Sprintf("%+.0f pts", pts))
		}
		moved = math.Abs(pts) >= 1
		c.score = math.Abs(d*100) / 2 // 2 pts is a notable move
	} else {
		if prev == 0 {
			if cur == 0 {
				return change{text: "±0%", class: "flat"}
			}
			return change{text: "new", class: "flat"}
		}
		rel := d / math.Abs(prev) * 100
		r := math.Round(rel)
		if r == 0 {
			c.text = "±0%"
		} else {
			c.text = signed(fmt.Sprintf("%+.0f%%", r))
		}
		moved = math.Abs(r) >= 1
		c.score = math.Abs(rel) / 5 // 5% is a notable move
		if (m.Unit == outcome.Tasks || m.Unit == outcome.Requests) && math.Abs(d) < 2 {
			c.score = 0 // 3 → 4 tasks is noise, however many percent
		}
	}
	switch {
	case !moved || m.Direction == outcome.Neutral:
		c.class = "flat"
	case c.up == (m.Direction == outcome.HigherIsBetter):
		c.class = "better"
	default:
		c.class = "worse"
	}
	return c
}

// csvNumber writes a value in its base unit (seconds, ratio 0..1, count)
// at a precision a spreadsheet needs.
func csvNumber(m outcome.Metric, v float64) string {
	switch m.Unit {
	case outcome.Ratio:
		return strconv.FormatFloat(noNegZero(math.Round(v*1e4)/1e4), 'f', 4, 64)
	case outcome.Blocks:
		return strconv.FormatFloat(noNegZero(math.Round(v*100)/100), 'f', 2, 64)
	default:
		return strconv.FormatFloat(noNegZero(math.Round(v)), 'f', 0, 64)
	}
}

// noNegZero turns -0 into 0, so that no output says "-0".
func noNegZero(x float64) float64 {
	if x == 0 {
		return 0
	}
	return x
}
