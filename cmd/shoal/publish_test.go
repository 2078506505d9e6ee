package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/broker"
	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestGenerateThenPublish: `shoal generate --out` writes reproducible NDJSON
// and `shoal publish --file` sends every line of it to a broker over TCP.
func TestGenerateThenPublish(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "events.ndjson")
	args := []string{"generate", "--seed", "5", "--end", "2026-11-23T00:00:00Z", "--org-teams", "6", "--org-units", "2", "--org-people", "40", "--org-weeks", "1"}
	if code, _, stderr := runCLI(t, append(args, "--out", file)...); code != 0 {
		t.Fatalf("generate: %d %s", code, stderr)
	}
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	code, again, _ := runCLI(t, args...)
	if code != 0 || again != string(first) {
		t.Fatal("generate with the same seed and --end is not byte-identical")
	}
	lines := int64(bytes.Count(first, []byte("\n")))

	addr := apptest.StartKafka(t, "acme.events")
	code, stdout, stderr := runCLI(t, "publish", "--file", file, "--brokers", addr, "--topic", "acme.events")
	if code != 0 {
		t.Fatalf("publish: %d %s", code, stderr)
	}
	if !bytes.Contains([]byte(stderr), []byte("published bytes [")) {
		t.Errorf("publish showed no progress: %q", stderr)
	}
	end, err := broker.EndOffsets(context.Background(), []string{addr}, "acme.events")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, off := range end {
		n += off
	}
	if n != lines {
		t.Errorf("topic holds %d messages, file has %d lines (stdout %q)", n, lines, stdout)
	}
}

// TestGenerateBadRateZero: --bad-rate 0 means no bad events, not the
// default share: every generated line is a valid event.
func TestGenerateBadRateZero(t *testing.T) {
	code, out, stderr := runCLI(t, "generate", "--org-teams", "2", "--org-units", "1", "--org-people", "10", "--org-weeks", "1",
		"--bad-rate", "0", "--end", "2026-11-23T00:00:00Z")
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	p, err := privacy.NewPseudonymizer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	dec := ingest.NewDecoder(p, nil, 0)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, line := range lines {
		var ev event.Event
		if r := dec.Decode([]byte(line), &ev); r != nil {
			t.Fatalf("line %d of %d is refused (%s): --bad-rate 0 generated a bad event", i+1, len(lines), r.Reason)
		}
	}
}
