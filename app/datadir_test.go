package app

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/report"
)

// TestDataDirIsPrivate: a data directory that already existed with open
// permissions (a volume, an older Shoal: dir 0755, shoal.duckdb and the
// broker log 0644) is made private at startup, and what Shoal writes
// afterwards (the broker's log of new events, DuckDB's WAL, the reports)
// is private too: no path under DATA_DIR has a group or other bit.
func TestDataDirIsPrivate(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	dataDir := filepath.Join(t.TempDir(), "data")
	embedded := func(c *Config) { c.Brokers, c.EmbeddedAddr = nil, "127.0.0.1:0" }

	if err := os.Mkdir(dataDir, 0o700); err != nil { // testPipeline writes the teams file there
		t.Fatal(err)
	}
	// A first Shoal leaves a DuckDB file and a broker log behind.
	p, stop := testPipeline(t, "", dataDir, org, &apptest.SyncBuffer{}, embedded)
	apptest.Publish(t, p.Brokers()[0], "shoal.events", msgs[:len(msgs)/2])
	waitCaughtUp(t, p)
	stop()
	assertPrivate(t, dataDir, "in a new data dir")
	// Then the directory is opened up, as a volume or an older Shoal left it.
	if err := os.MkdirAll(filepath.Join(dataDir, "reports"), 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"notes.txt": "left by hand", "reports/2026-W01.html": "an old report"} {
		if err := os.WriteFile(filepath.Join(dataDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	loosened := 0
	walkModes(t, dataDir, func(path string, mode fs.FileMode) {
		open := fs.FileMode(0o644)
		if mode.IsDir() {
			open = 0o755
		}
		if err := os.Chmod(path, open); err != nil {
			t.Fatal(err)
		}
		loosened++
	})
	for _, name := range []string{"", "shoal.duckdb", "kafka", "reports/2026-W01.html"} {
		if fi, err := os.Stat(filepath.Join(dataDir, name)); err != nil || fi.Mode().Perm()&0o077 == 0 {
			t.Fatalf("fixture: %s not opened up (%v)", name, err)
		}
	}

	logs := &apptest.SyncBuffer{}
	p, _ = testPipeline(t, "", dataDir, org, logs, embedded)
	assertPrivate(t, dataDir, "after startup")
	if l := string(logs.Bytes()); !strings.Contains(l, "data directory permissions tightened") || !strings.Contains(l, "shoal.duckdb 0644→0600") || !strings.Contains(l, ". 0755→0700") {
		t.Errorf("startup did not log what it tightened:\n%s", grepLines(l, "files"))
	}

	// The broker writes the new events to its log, DuckDB commits them and
	// the release writes its reports.
	apptest.Publish(t, p.Brokers()[0], "shoal.events", msgs[len(msgs)/2:])
	waitCaughtUp(t, p)
	weeks := release(t, p)
	if len(weeks) == 0 {
		t.Fatal("nothing released")
	}
	last := report.WeekOfDay(weeks[len(weeks)-1])
	if _, err := os.Stat(filepath.Join(dataDir, "reports", report.FileName(last, report.HTML))); err != nil {
		t.Fatalf("the release wrote no report: %v", err)
	}
	assertPrivate(t, dataDir, "after the broker, DuckDB and the reports wrote")
	t.Logf("%d paths opened up before the restart; startup logged:\n%s", loosened, grepLines(string(logs.Bytes()), "tightened"))
}

// walkModes calls f with every path under dir (dir included) and its mode.
func walkModes(t *testing.T, dir string, f func(path string, mode fs.FileMode)) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		f(path, info.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// assertPrivate fails for every path under dir with a group or other bit.
func assertPrivate(t *testing.T, dir, when string) {
	t.Helper()
	n := 0
	walkModes(t, dir, func(path string, mode fs.FileMode) {
		n++
		if mode.Perm()&0o077 != 0 {
			t.Errorf("%s: %s has mode %04o, want no group or other access", when, path, mode.Perm())
		}
	})
	if n < 5 {
		t.Errorf("%s: only %d paths under the data dir", when, n)
	}
}

// TestKeyInsideDataDir: a key file inside the data directory is found
// through relative paths and symbolic links; one beside it is not.
func TestKeyInsideDataDir(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(filepath.Join(data, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(data, link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(base)
	tests := []struct {
		key, dir string
		inside   bool
	}{
		{filepath.Join(data, "shoal.key"), data, true},
		{filepath.Join(data, "secrets", "shoal.key"), data, true},
		{"data/shoal.key", "data", true},
		{"./data/../data/shoal.key", data, true},
		{filepath.Join(link, "shoal.key"), data, true},
		{filepath.Join(data, "shoal.key"), link, true},
		{filepath.Join(link, "new", "x.key"), filepath.Join(data, "new"), true}, // neither exists yet
		{filepath.Join(base, "shoal.key"), data, false},
		{filepath.Join(base, "data2", "shoal.key"), data, false},
		{filepath.Join(base, "data.key"), data, false},
		{"/etc/shoal/pseudonym.key", data, false},
		{data, data, false},
	}
	for _, tc := range tests {
		if got := keyInsideDataDir(tc.key, tc.dir); got != tc.inside {
			t.Errorf("keyInsideDataDir(%q, %q) = %v, want %v", tc.key, tc.dir, got, tc.inside)
		}
	}
}

// TestSecureDataDir: what is open is tightened and logged, a symbolic link
// is not followed out of the data dir, and a path that cannot be made
// private is refused with what to do.
func TestSecureDataDir(t *testing.T) {
	base := t.TempDir()
	dir, outside := filepath.Join(base, "data"), filepath.Join(base, "outside.txt")
	for _, p := range []string{dir, filepath.Join(dir, "sub")} {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{outside, filepath.Join(dir, "sub", "f")} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	open := func() {
		for p, m := range map[string]fs.FileMode{dir: 0o755, filepath.Join(dir, "sub"): 0o750, filepath.Join(dir, "sub", "f"): 0o644, outside: 0o644} {
			if err := os.Chmod(p, m); err != nil {
				t.Fatal(err)
			}
		}
	}

	open()
	logs := &apptest.SyncBuffer{}
	if err := secureDataDir(dir, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
		t.Fatal(err)
	}
	assertModes(t, map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, "sub"): 0o700, filepath.Join(dir, "sub", "f"): 0o600, outside: 0o644})
	if l := string(logs.Bytes()); !strings.Contains(l, `tightened=". 0755→0700, sub/ (2 paths)"`) {
		t.Errorf("log does not say what was tightened:\n%s", l)
	}

	open()
	defer func(orig func(string, fs.FileMode) error) { chmod = orig }(chmod)
	chmod = func(path string, mode fs.FileMode) error {
		if path == filepath.Join(dir, "sub") {
			return &fs.PathError{Op: "chmod", Path: path, Err: syscall.EPERM}
		}
		return os.Chmod(path, mode)
	}
	err := secureDataDir(dir, apptest.DiscardLogger())
	if err == nil {
		t.Fatal("a path that cannot be made private was accepted")
	}
	t.Logf("refused: %v", err)
	for _, want := range []string{filepath.Join(dir, "sub") + " has mode 0750 and cannot be made 0700", "operation not permitted",
		"must be private to Shoal's user", "chown them", "point --data-dir at a new directory Shoal creates, e.g. " + filepath.Join(dir, "shoal")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
}

func assertModes(t *testing.T, want map[string]fs.FileMode) {
	t.Helper()
	for p, m := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != m {
			t.Errorf("%s has mode %04o, want %04o", p, fi.Mode().Perm(), m)
		}
	}
}
