// Package progress draws the progress of long command-line work (publishing,
// ingesting, generating): a line redrawn in place on a terminal, or a line
// every few seconds to anything else (logs, CI). It imports nothing of
// Shoal's.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Bar prints a one-line progress bar to a terminal (redrawn in place) or a
// line every few seconds to anything else. Its methods are safe for
// concurrent use.
type Bar struct {
	w        io.Writer
	what     string
	total    int64
	tty      bool
	began    time.Time
	mu       sync.Mutex
	lastDraw time.Time
}

// New returns a bar of what, out of total units (0: unknown, no bar is
// drawn, only the count and rate), written to w.
func New(w io.Writer, what string, total int64) *Bar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &Bar{w: w, what: what, total: total, tty: tty, began: time.Now()}
}

// Update reports that done units are complete.
func (p *Bar) Update(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := 3 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if time.Since(p.lastDraw) < every {
		return
	}
	p.lastDraw = time.Now()
	p.draw(done)
}

func (p *Bar) draw(done int64) {
	rate := float64(done) / max(time.Since(p.began).Seconds(), 1e-9)
	line := fmt.Sprintf("%s %d", p.what, done)
	if p.total > 0 {
		pct := float64(done) * 100 / float64(p.total)
		const width = 30
		filled := min(width, int(pct*width/100))
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < filled {
				bar[i] = '#'
			}
		}
		line = fmt.Sprintf("%s [%s] %d/%d (%.0f%%)", p.what, bar, done, p.total, pct)
	}
	line += fmt.Sprintf(" %.0f/s", rate)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// Finish draws the final state and ends the line.
func (p *Bar) Finish(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(done)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
