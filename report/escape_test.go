package report

import (
	"bytes"
	"encoding/csv"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"

	"github.com/shoal-analytics/shoal/privacy"
)

// Names an attacker can give a team or a unit: a spreadsheet formula, raw
// HTML, a Markdown link, a pipe that would split a table row, and a line
// break that would start a heading.
const (
	formulaName = `=HYPERLINK("http://evil","x")`
	htmlName    = `<img src=x onerror=alert(1)>`
	linkName    = `[click](http://evil)`
	pipeName    = `a | b **bold** ` + "`code`"
	breakName   = "Ops\n# Pwned"
	// formulaID is a team id from the events (printable text); a team the
	// teams file does not list is shown under its id.
	formulaID = `@SUM(1+1)*cmd|' /C calc'!A0`
	unitID    = "-2+3"
)

// hostileData is the demo report with hostile names: three listed teams
// renamed, a unit renamed, one team's id and another unit's id replaced in
// every cell (so they are shown, and written to the CSV, as ids).
func hostileData(t *testing.T) Data {
	d := demoData(t, nil)
	names := map[string]string{"platform-payments": formulaName, "product-mobile": htmlName, "platform-infra": linkName, "platform-identity": pipeName}
	var teams []Team
	for _, tm := range d.Teams {
		if n, ok := names[tm.ID]; ok {
			tm.Name = n
		}
		if tm.ID == "data-pipelines" {
			continue // unlisted: shown under its id
		}
		teams = append(teams, tm)
	}
	d.Teams = teams
	d.Units = []Unit{{"platform", breakName}, {"product", "Product"}} // data: unlisted, shown under its id
	cells := append([]privacy.Published(nil), d.Cells...)
	for i := range cells {
		if cells[i].Team == "data-pipelines" {
			cells[i].Team = formulaID
		}
		if cells[i].Unit == "data" {
			cells[i].Unit = unitID
		}
	}
	d.Cells = cells
	return d
}

// TestReportsEscapeData: names from the teams file and ids from the events
// reach every format as the text they are. CSV: a text cell that begins
// with =, +, -, @, tab or CR gets a leading quote (OWASP), while value,
// previous and change stay numbers; Markdown, rendered by a CommonMark
// renderer with GitHub's extensions and raw HTML allowed (as many wikis
// do), makes no element, link or heading of a name and keeps the tables
// whole; the HTML (html/template) shows them as text too.
func TestReportsEscapeData(t *testing.T) {
	out := renderAll(t, hostileData(t))

	t.Run("csv", func(t *testing.T) {
		rows, err := csv.NewReader(bytes.NewReader(out[CSV])).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		numeric := map[int]bool{5: true, 6: true, 7: true} // value, previous, change
		teamsSeen, unitsSeen := map[string]bool{}, map[string]bool{}
		negative := 0
		for _, r := range rows[1:] {
			for i, c := range r {
				if c == "" {
					continue
				}
				if numeric[i] {
					if _, err := strconv.ParseFloat(c, 64); err != nil {
						t.Fatalf("%s %q is not a number: %v", csvHeader[i], c, err)
					}
					if strings.HasPrefix(c, "-") {
						negative++
					}
					continue
				}
				if strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Errorf("%s cell %q would be read as a formula", csvHeader[i], c)
				}
			}
			teamsSeen[r[3]], unitsSeen[r[2]] = true, true
		}
		if !teamsSeen["'"+formulaID] || !unitsSeen["'"+unitID] {
			t.Errorf("the hostile team id and unit id are not in the CSV, neutralised: teams %v, units %v", teamsSeen, unitsSeen)
		}
		if negative == 0 {
			t.Error("fixture: no negative change in the CSV, so the numeric columns are not tested")
		}
	})

	t.Run("markdown", func(t *testing.T) {
		md := string(out[Markdown])
		for _, raw := range []string{htmlName, linkName, formulaName, "](http", "\n# Pwned"} {
			if strings.Contains(md, raw) {
				t.Errorf("Markdown carries %q unescaped", raw)
			}
		}
		var buf bytes.Buffer
		gm := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithRendererOptions(html.WithUnsafe()))
		if err := gm.Convert(out[Markdown], &buf); err != nil {
			t.Fatal(err)
		}
		rendered := buf.String()
		for _, bad := range []string{"<img", "<a ", "<h1>Pwned", "<strong>bold", "<code>code"} {
			if strings.Contains(rendered, bad) {
				t.Errorf("the rendered Markdown has %q: data became markup", bad)
			}
		}
		// Each name renders as itself (HTML-escaped by the renderer).
		for _, name := range []string{formulaName, htmlName, linkName, pipeName, "Ops # Pwned", formulaID, unitID} {
			if want := htmlText(name); !strings.Contains(rendered, want) {
				t.Errorf("the rendered Markdown does not show %q as text (%q)", name, want)
			}
		}
		// The tables stay whole: every row has as many cells as its header.
		for _, table := range regexp.MustCompile(`(?s)<table>.*?</table>`).FindAllString(rendered, -1) {
			head := len(regexp.MustCompile(`<th[ >]`).FindAllString(table[:strings.Index(table, "</thead>")], -1))
			for _, row := range regexp.MustCompile(`(?s)<tr>\s*<td.*?</tr>`).FindAllString(table, -1) {
				if n := strings.Count(row, "<td"); n != head {
					t.Errorf("a table row has %d cells, its header %d: %s", n, head, row)
				}
			}
		}
		if !strings.Contains(rendered, "<td>"+htmlText(pipeName)+"</td>") {
			t.Errorf("the team with a pipe in its name is not one table cell")
		}
	})

	t.Run("html", func(t *testing.T) {
		page := string(out[HTML])
		for _, bad := range []string{htmlName, "<img", `href="http://evil`} {
			if strings.Contains(page, bad) {
				t.Errorf("the HTML report carries %q", bad)
			}
		}
		for _, want := range []string{"&lt;img src=x onerror=alert(1)&gt;", "[click](http://evil)", "=HYPERLINK(&#34;http://evil&#34;,&#34;x&#34;)"} {
			if !strings.Contains(page, want) {
				t.Errorf("the HTML report does not show %q", want)
			}
		}
	})
}

// htmlText is s as an HTML renderer writes text: & < > " escaped, and a
// line break a space (mdText's).
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", " ").Replace(s)
}

// TestMarkdownText: mdText escapes what Markdown would read as markup and
// nothing else; mdCell escapes a pipe once.
func TestMarkdownText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Payments", "Payments"},
		{"Machine learning", "Machine learning"},
		{"Zürich ñ 東京", "Zürich ñ 東京"},
		{"<b>", `\<b\>`},
		{"[x](y)", `\[x\]\(y\)`},
		{"a|b", `a\|b`},
		{`back\slash`, `back\\slash`},
		{"line\nbreak\r\tx", "line break  x"},
		{"http://e.x", `http\://e\.x`},
	}
	for _, tc := range tests {
		if got := mdText(tc.in); got != tc.want {
			t.Errorf("mdText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"a|b", `a\|b`},
		{`a\|b`, `a\|b`},
		{`a\\|b`, `a\\\|b`},
		{"plain", "plain"},
	} {
		if got := mdCell(tc.in); got != tc.want {
			t.Errorf("mdCell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
