package agreements

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer collects slog text output; safe for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

const (
	goodFile = "units:\n  - id: platform\n    teams:\n      - id: payments\n        response_sla: 8h\n"
	editFile = "min_group_size: 6\nunits:\n  - id: platform\n    teams:\n      - id: payments\n        response_sla: 4h\n      - id: identity\n"
	badEdit  = "units:\n  - id: platform\n    teams:\n      - id: payments\n        response_sla: fast\n"
)

func TestHolderReload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    string
		wantErr string // "" = the edit is taken
		wantSLA time.Duration
		wantK   int
	}{
		{"good edit is taken", editFile, "", 4 * time.Hour, 6},
		{"bad edit keeps the old file", badEdit, `teams.yaml:5: units[0].teams[0].response_sla: "fast" is not a duration`, 8 * time.Hour, 5},
		{"unparsable edit keeps the old file", "units: [\n", "invalid YAML", 8 * time.Hour, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "teams.yaml")
			writeFile(t, path, goodFile)
			var logs logBuffer
			h, err := NewHolder(path, logs.logger())
			if err != nil {
				t.Fatal(err)
			}
			before := h.Get()
			writeFile(t, path, tc.edit)
			changed, err := h.Reload()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Reload: %v", err)
				}
				if h.Get() == before || !changed {
					t.Errorf("Reload kept the old Org (changed %v)", changed)
				}
				// The same bytes again change nothing: reloads coalesce.
				now := h.Get()
				if again, err := h.Reload(); err != nil || again || h.Get() != now {
					t.Errorf("reloading an unchanged file: changed %v, err %v, same Org %v; want false, nil, true", again, err, h.Get() == now)
				}
				if !strings.Contains(logs.String(), "teams file reloaded") {
					t.Errorf("no reload log line in:\n%s", logs.String())
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "previous version stays in force") {
					t.Fatalf("Reload = %v, want an error containing %q", err, tc.wantErr)
				}
				if h.Get() != before {
					t.Error("a refused reload replaced the Org")
				}
				if log := logs.String(); !strings.Contains(log, "level=ERROR") || !strings.Contains(log, "reload refused") || !strings.Contains(log, "component=agreements") {
					t.Errorf("refused reload not logged as an error:\n%s", log)
				}
			}
			if got := h.Get().Team("payments").ResponseSLA; got != tc.wantSLA {
				t.Errorf("payments response_sla = %v, want %v", got, tc.wantSLA)
			}
			if got := h.Get().MinGroupSize(); got != tc.wantK {
				t.Errorf("MinGroupSize = %d, want %d", got, tc.wantK)
			}
		})
	}
}

func TestNewHolder(t *testing.T) {
	t.Run("no file means Default", func(t *testing.T) {
		h, err := NewHolder("", nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Get().MinGroupSize() != 5 || len(h.Get().Teams()) != 0 {
			t.Errorf("Get() = %+v, want Default()", h.Get())
		}
		if changed, err := h.Reload(); err != nil || changed {
			t.Errorf("Reload without a file = %v, %v; want false, nil", changed, err)
		}
	})
	t.Run("bad file is refused", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "teams.yaml")
		writeFile(t, path, badEdit)
		if h, err := NewHolder(path, nil); err == nil || h != nil {
			t.Fatalf("NewHolder(bad) = %v, %v; want nil and an error", h, err)
		}
	})
	t.Run("missing file is refused", func(t *testing.T) {
		if _, err := NewHolder(filepath.Join(t.TempDir(), "nope.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("NewHolder(missing) = %v, want not-exist", err)
		}
	})
}

// TestHolderListed: Listed follows the file in force, reloads included;
// without a file no team is listed.
func TestHolderListed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeFile(t, path, goodFile)
	h, err := NewHolder(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Listed("payments") || h.Listed("identity") || h.Listed("") {
		t.Errorf("Listed: payments %v, identity %v, empty %v; want true, false, false", h.Listed("payments"), h.Listed("identity"), h.Listed(""))
	}
	writeFile(t, path, editFile)
	if _, err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if !h.Listed("identity") {
		t.Error("a team the reloaded file adds is not listed")
	}
	none, err := NewHolder("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if none.Listed("payments") {
		t.Error("without a file a team is listed")
	}
}

func TestHolderUnlistedLogsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeFile(t, path, goodFile)
	var logs logBuffer
	h, err := NewHolder(path, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				h.Unlisted("ghosts")
				h.Unlisted("payments") // listed: never logged
				h.Unlisted("")
			}
		})
	}
	wg.Wait()
	h.Unlisted("phantoms")
	var lines []string
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "not in the teams file") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 2 || !strings.Contains(lines[0], "team=ghosts") || !strings.Contains(lines[1], "team=phantoms") {
		t.Fatalf("want one line for ghosts and one for phantoms, got:\n%s", strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=INFO", "component=agreements", "unit=unassigned"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("log line %q lacks %s", lines[0], want)
		}
	}
}

func TestHolderUnlistedIsBounded(t *testing.T) {
	var logs logBuffer
	h, err := NewHolder("", logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxUnlisted + 50 {
		h.Unlisted(fmt.Sprintf("team-%d", i))
	}
	log := logs.String()
	if n := strings.Count(log, "not in the teams file"); n != maxUnlisted {
		t.Errorf("%d unlisted teams logged, want %d", n, maxUnlisted)
	}
	if strings.Count(log, "too many teams missing") != 1 {
		t.Error("no single warning when the limit is reached")
	}
}

// TestHolderConcurrency reads while reloading; run with -race to check.
func TestHolderConcurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams.yaml")
	writeFile(t, path, goodFile)
	h, err := NewHolder(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC)
	to := from.Add(64 * time.Hour)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := h.Get()
				if sla := o.Team("payments").ResponseSLA; sla != 8*time.Hour && sla != 4*time.Hour {
					t.Errorf("response_sla = %v mid-reload", sla)
					return
				}
				o.WorkingSeconds("payments", from, to)
				o.Units()
				h.Unlisted(fmt.Sprintf("ghost-%d", i))
			}
		})
	}
	for i := range 50 {
		content := []string{goodFile, editFile, badEdit}[i%3]
		writeFile(t, path, content)
		_, _ = h.Reload() // errors are expected for badEdit; old Org stays
	}
	close(stop)
	wg.Wait()
}
