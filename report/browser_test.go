package report

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on the file page with args (e.g.
// --screenshot=..., --dump-dom) and returns its stdout and its log.
func chromium(t *testing.T, page string, args ...string) (stdout, log string) {
	t.Helper()
	bin := chromiumPath
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("headless Chromium test skipped: %s not found (install the Debian chromium package; .ci/run does)", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// pageProblems returns the console messages and failed or blocked loads
// Chromium logged for the page.
func pageProblems(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "Failed to load resource") ||
			strings.Contains(l, "net::ERR_") || strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

// TestHTMLInChromium: the golden organisation's HTML report renders in
// headless Chromium to a PNG with no console message and no failed or
// blocked request, and the browser's DOM holds the trend charts as SVG
// elements drawn from data.
func TestHTMLInChromium(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := Render(&buf, demoData(t, nil), HTML); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "2026-W47.html")
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("detector sees a blocked request", func(t *testing.T) {
		// The check below must be able to fail: a page that tries an
		// external load under the same policy is caught.
		bad := filepath.Join(dir, "bad.html")
		html := strings.Replace(buf.String(), "</main>", `<img src="http://127.0.0.1:9/x.png" alt=""></main>`, 1)
		if err := os.WriteFile(bad, []byte(html), 0o644); err != nil {
			t.Fatal(err)
		}
		_, log := chromium(t, bad, "--dump-dom")
		if len(pageProblems(log)) == 0 {
			t.Fatalf("a page with an external image logged no problem; the detector is blind:\n%s", log)
		}
	})

	shot := filepath.Join(dir, "report.png")
	_, log := chromium(t, page, "--screenshot="+shot, "--window-size=900,5200")
	for _, p := range pageProblems(log) {
		t.Errorf("Chromium: %s", p)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, log)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 900 || b.Dy() < 2000 {
		t.Errorf("screenshot is %v", b)
	}
	colours := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has only %d colours: the page did not render", len(colours))
	}
	if out := os.Getenv("SHOAL_REPORT_PNG"); out != "" { // to look at it: SHOAL_REPORT_PNG=/tmp/r.png
		b, _ := os.ReadFile(shot)
		os.WriteFile(out, b, 0o644)
	}

	// Printed, it is A4 and a handful of pages.
	pdf := filepath.Join(dir, "report.pdf")
	_, log = chromium(t, page, "--no-pdf-header-footer", "--print-to-pdf="+pdf)
	for _, p := range pageProblems(log) {
		t.Errorf("Chromium (print): %s", p)
	}
	doc, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatalf("no PDF: %v\n%s", err, log)
	}
	boxes := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindAllSubmatch(doc, -1)
	if len(boxes) == 0 || len(boxes) > 8 {
		t.Errorf("printed report has %d pages, want 1 to 8", len(boxes))
	}
	for _, b := range boxes {
		w, _ := strconv.ParseFloat(string(b[1]), 64)
		h, _ := strconv.ParseFloat(string(b[2]), 64)
		if math.Abs(w-595.3) > 2 || math.Abs(h-841.9) > 2 { // A4 is 210 × 297 mm = 595.3 × 841.9 pt
			t.Errorf("printed page is %.1f × %.1f pt, want A4 (595.3 × 841.9)", w, h)
			break
		}
	}
	t.Logf("printed on %d A4 pages", len(boxes))

	dom, log := chromium(t, page, "--dump-dom")
	for _, p := range pageProblems(log) {
		t.Errorf("Chromium (dump-dom): %s", p)
	}
	charts := regexp.MustCompile(`(?s)<svg class="chart".*?</svg>`).FindAllString(dom, -1)
	if len(charts) != len(chartMetrics) {
		t.Fatalf("browser DOM has %d chart SVG elements, want %d", len(charts), len(chartMetrics))
	}
	// A data line is a path of at least TrendWeeks points in a series colour.
	line := regexp.MustCompile(`(?i)<path d="M[-0-9.,]+(L[-0-9.,]+){7,}" style="[^"]*stroke:#1f2a44`)
	for i, c := range charts {
		if !line.MatchString(c) {
			t.Errorf("chart %d (%s) has no organisation line with %d points", i, chartMetrics[i], TrendWeeks)
		}
		if !strings.Contains(c, "<text") || !strings.Contains(c, "W47") {
			t.Errorf("chart %d (%s) has no week labels", i, chartMetrics[i])
		}
	}
}
