package progress

import (
	"bytes"
	"strings"
	"testing"
)

// TestBar: to a non-terminal, Finish writes one line with the count, the
// bar and percentage when the total is known, and the rate; Update draws
// at most every few seconds.
func TestBar(t *testing.T) {
	var out bytes.Buffer
	b := New(&out, "published", 200)
	b.Update(50) // first draw
	b.Update(60) // too soon: not drawn
	b.Finish(200)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (one update, one finish):\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[1], "published [##############################] 200/200 (100%) ") || !strings.HasSuffix(lines[1], "/s") {
		t.Errorf("final line %q", lines[1])
	}
	out.Reset()
	New(&out, "published", 0).Finish(7)
	if got := out.String(); !strings.HasPrefix(got, "published 7 ") || !strings.HasSuffix(got, "/s\n") {
		t.Errorf("without a total: %q", got)
	}
}
