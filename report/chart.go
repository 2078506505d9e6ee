package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/shoal-analytics/shoal/outcome"
)

// Chart colours: the org in ink, units in a palette that stays apart in
// print and for the common colour-vision deficiencies (Okabe–Ito).
var (
	orgColor   = color.RGBA{R: 0x1f, G: 0x2a, B: 0x44, A: 0xff}
	unitColors = []color.RGBA{
		{R: 0x00, G: 0x72, B: 0xb2, A: 0xff},
		{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff},
		{R: 0x00, G: 0x9e, B: 0x73, A: 0xff},
		{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff},
		{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff},
		{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff},
	}
	gridColor = color.RGBA{R: 0xe3, G: 0xe6, B: 0xea, A: 0xff}
	axisColor = color.RGBA{R: 0x6b, G: 0x72, B: 0x80, A: 0xff}
	sansFont  = font.Font{Typeface: "Liberation", Variant: "Sans"}
)

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// series is one line of a trend chart: shown values by week index, NaN
// where the week has no shown value.
type series struct {
	label string
	color color.RGBA
	width vg.Length
	ys    []float64
}

// charts builds the 8-week trend of each chart metric for the org and, when
// there are few enough units to tell apart, each unit.
func (b *builder) charts(v *view) {
	weeks := make([]int32, TrendWeeks)
	for i := range weeks {
		w := b.d.Week.Add(i - TrendWeeks + 1)
		weeks[i] = w.Monday()
		v.TrendWeeks = append(v.TrendWeeks, fmt.Sprintf("W%02d", w.Week))
	}
	withUnits := len(b.units) <= len(unitColors)
	v.Legend = append(v.Legend, legendItem{"Organisation", hex(orgColor)})
	if withUnits {
		for i, u := range b.units {
			v.Legend = append(v.Legend, legendItem{u.Name, hex(unitColors[i])})
		}
	}
	for _, id := range chartMetrics {
		m := b.metric(id)
		ss := []series{{label: "Organisation", color: orgColor, width: vg.Points(2.2), ys: b.trend(weeks, func(w int32) cellKey { return orgKey(w, id) })}}
		if withUnits {
			for i, u := range b.units {
				ss = append(ss, series{label: u.Name, color: unitColors[i], width: vg.Points(1.3),
					ys: b.trend(weeks, func(w int32) cellKey { return unitKey(w, u.ID, id) })})
			}
		}
		cv := chartView{Metric: id, Title: m.Title, Help: m.Help}
		for _, s := range ss {
			r := trendRow{Label: s.label}
			for _, y := range s.ys {
				if math.IsNaN(y) {
					r.Values = append(r.Values, "–")
				} else {
					r.Values = append(r.Values, fmtValue(m, y))
				}
			}
			cv.Rows = append(cv.Rows, r)
		}
		if y := ss[0].ys[len(ss[0].ys)-1]; !math.IsNaN(y) {
			cv.Latest = fmtValue(m, y)
		}
		svg, err := chartSVG(m, v.TrendWeeks, ss)
		if err != nil {
			// A chart that cannot be drawn must not hide the rest of the
			// report: its data table still shows.
			cv.SVG = ""
		} else {
			cv.SVG = svg
		}
		v.Charts = append(v.Charts, cv)
	}
}

func (b *builder) trend(weeks []int32, key func(int32) cellKey) []float64 {
	ys := make([]float64, len(weeks))
	for i, w := range weeks {
		val, st, _ := b.cells.get(key(w))
		if st == shown {
			ys[i] = val
		} else {
			ys[i] = math.NaN()
		}
	}
	return ys
}

// scale converts a metric's base unit to the chart's axis unit.
func scale(m outcome.Metric, ss []series) (float64, string) {
	switch m.Unit {
	case outcome.Ratio:
		return 100, "%"
	case outcome.Seconds:
		top := 0.0
		for _, s := range ss {
			for _, y := range s.ys {
				if !math.IsNaN(y) {
					top = math.Max(top, y)
				}
			}
		}
		switch {
		case top >= 48*3600:
			return 1.0 / 86400, " d"
		case top >= 2*3600:
			return 1.0 / 3600, " h"
		default:
			return 1.0 / 60, " min"
		}
	}
	return 1, ""
}

// chartSVG draws the series with gonum/plot and returns inline SVG.
func chartSVG(m outcome.Metric, weekLabels []string, ss []series) (string, error) {
	factor, suffix := scale(m, ss)
	p := plot.New()
	p.BackgroundColor = color.Transparent
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font = font.From(sansFont, 7.5)
		a.Tick.Label.Color = axisColor
		a.LineStyle.Color = axisColor
		a.LineStyle.Width = vg.Points(0.5)
		a.Tick.LineStyle.Color = axisColor
		a.Tick.LineStyle.Width = vg.Points(0.5)
		a.Tick.Length = vg.Points(3)
		a.Padding = vg.Points(2)
	}
	ticks := make([]plot.Tick, len(weekLabels))
	for i, l := range weekLabels {
		ticks[i] = plot.Tick{Value: float64(i), Label: l}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.3, float64(len(weekLabels))-0.7

	top := 0.0
	for _, s := range ss {
		for _, y := range s.ys {
			if !math.IsNaN(y) {
				top = math.Max(top, y*factor)
			}
		}
	}
	if top == 0 {
		top = 1
	}
	if m.Unit == outcome.Ratio {
		top = math.Min(100, top*1.15)
	} else {
		top *= 1.15
	}
	p.Y.Min, p.Y.Max = 0, top
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		var out []plot.Tick
		for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
			if t.Label != "" {
				t.Label = signed(trimZeros(t.Label)) + suffix
			}
			out = append(out, t)
		}
		return out
	})

	g := plotter.NewGrid()
	g.Vertical.Color = nil
	g.Horizontal.Color = gridColor
	g.Horizontal.Width = vg.Points(0.5)
	p.Add(g)
	// Units first, the org on top.
	for i := len(ss) - 1; i >= 0; i-- {
		if err := addSeries(p, ss[i], factor); err != nil {
			return "", err
		}
	}

	c := vgsvg.NewWith(vgsvg.UseWH(11*vg.Centimeter, 5.2*vg.Centimeter))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", err
	}
	return inlineSVG(buf.String(), m.Title+" over the last "+strconv.Itoa(len(weekLabels))+" weeks"), nil
}

// addSeries draws each run of consecutive shown weeks as a line, and every
// shown week as a point, so that a week without a value is a gap rather
// than a zero.
func addSeries(p *plot.Plot, s series, factor float64) error {
	var run plotter.XYs
	flush := func() error {
		if len(run) >= 2 {
			l, err := plotter.NewLine(run)
			if err != nil {
				return err
			}
			l.Color, l.Width = s.color, s.width
			p.Add(l)
		}
		run = nil
		return nil
	}
	var pts plotter.XYs
	for i, y := range s.ys {
		if math.IsNaN(y) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		xy := plotter.XY{X: float64(i), Y: y * factor}
		run = append(run, xy)
		pts = append(pts, xy)
	}
	if err := flush(); err != nil {
		return err
	}
	if len(pts) == 0 {
		return nil
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.GlyphStyle.Color = s.color
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	sc.GlyphStyle.Radius = s.width * 1.1
	p.Add(sc)
	return nil
}

// inlineSVG turns vgsvg's standalone document into an element for inline
// use: no XML prolog, a scalable width, and an accessible name.
func inlineSVG(doc, label string) string {
	if i := strings.Index(doc, "<svg"); i >= 0 {
		doc = doc[i:]
	}
	if i := strings.Index(doc, "viewBox="); i >= 0 {
		head := doc[:i]
		if j := strings.Index(head, " width="); j >= 0 {
			doc = `<svg class="chart" role="img" aria-label="` + htmlEscape(label) + `" ` + doc[i:]
		}
	}
	return strings.TrimSpace(doc)
}

// trimZeros writes a tick label without trailing zeros: 2.50 → 2.5, 0.00 → 0.
func trimZeros(s string) string {
	if strings.ContainsAny(s, "eE") || !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;")
	return r.Replace(s)
}
