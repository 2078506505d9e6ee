package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints a one-line progress bar to a terminal (redrawn in place)
// or a line every few seconds to anything else (logs, CI).
type progress struct {
	w        io.Writer
	what     string
	total    int64
	tty      bool
	began    time.Time
	mu       sync.Mutex
	lastDraw time.Time
}

func newProgress(w io.Writer, what string, total int64) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progress{w: w, what: what, total: total, tty: tty, began: time.Now()}
}

// update reports that done units are complete.
func (p *progress) update(done int64) {
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

func (p *progress) draw(done int64) {
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

// finish draws the final state and ends the line.
func (p *progress) finish(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(done)
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
