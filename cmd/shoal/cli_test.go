package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/app/apptest"
	sqlserver "github.com/shoal-analytics/shoal/sql"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/ (go test ./cmd/shoal -run Help -update)")

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestRunRefusesBadInput: each bad configuration is refused at startup with
// an error that says what is wrong and what to do.
func TestRunRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyPath, _ := apptest.TestKey(t, dir)
	if err := os.MkdirAll(filepath.Join(dir, "data", "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	inside, _ := apptest.TestKey(t, filepath.Join(dir, "data", "secrets")) // a backup of the data would carry it
	hash, err := sqlserver.HashPassword("a long enough password")
	if err != nil {
		t.Fatal(err)
	}
	sqlUsers := filepath.Join(dir, "sql-users")
	if err := os.WriteFile(sqlUsers, []byte("analyst:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"run", "--data-dir", filepath.Join(dir, "data"), "--http-addr", "127.0.0.1:0", "--embedded-addr", "127.0.0.1:0"}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		want     []string
	}{
		{"no key file", base, nil, 1, []string{"pseudonym-key-file is required", "head -c 32 /dev/urandom"}},
		{"missing key file", append(base, "--pseudonym-key-file", filepath.Join(dir, "nope.key")), nil, 1, []string{"pseudonym key file", "no such file", "head -c 32"}},
		{"short key file", append(base, "--pseudonym-key-file", short), nil, 1, []string{"9 bytes, need at least 32"}},
		{"key file inside the data dir", append(base, "--pseudonym-key-file", inside), nil, 1, []string{"pseudonym-key-file " + inside + " is inside data-dir", "a backup or copy of the data directory would carry the key", "Keep the key outside the data directory"}},
		{"unknown yaml key", append(base, "--pseudonym-key-file", keyPath, "--config", "testdata/unknown_key.bad.yaml"), nil, 2, []string{"unknown_key.bad.yaml", "line 2", "batch_sise"}},
		{"bad yaml duration", append(base, "--pseudonym-key-file", keyPath, "--config", "testdata/bad_duration.bad.yaml"), nil, 2, []string{"bad_duration.bad.yaml", "fast"}},
		{"same topics in yaml", append(base, "--pseudonym-key-file", keyPath, "--config", "testdata/same_topics.bad.yaml"), nil, 1, []string{"dlq topic must differ"}},
		{"missing config file", append(base, "--pseudonym-key-file", keyPath, "--config", "testdata/nope.yaml"), nil, 2, []string{"config file", "no such file"}},
		{"bad teams file", append(base, "--pseudonym-key-file", keyPath, "--teams", "testdata/bad_teams.bad.yaml"), nil, 1, []string{"bad_teams.bad.yaml:1: min_group_size", "bad_teams.bad.yaml:6:", "Mars/Olympus"}},
		{"missing teams file", append(base, "--pseudonym-key-file", keyPath, "--teams", "testdata/nope.yaml"), nil, 1, []string{"nope.yaml"}},
		{"zero batch size", append(base, "--pseudonym-key-file", keyPath, "--batch-size", "0"), nil, 1, []string{"batch-size must be between 1 and 1000000, got 0"}},
		{"bad earliest event time", append(base, "--pseudonym-key-file", keyPath, "--earliest-event-time", "1.1.2000"), nil, 1, []string{`earliest-event-time "1.1.2000" is not a YYYY-MM-DD date`}},
		{"embedded broker on every interface", append(base, "--pseudonym-key-file", keyPath, "--embedded-addr", "0.0.0.0:9092"), nil, 1, []string{`embedded-addr "0.0.0.0:9092" listens on every interface`, "loopback only", "run a real Kafka", "deploy/", "--brokers"}},
		{"embedded broker on all interfaces by port only", append(base, "--pseudonym-key-file", keyPath, "--embedded-addr", ":9092"), nil, 1, []string{`embedded-addr ":9092" listens on every interface`, "--brokers"}},
		{"embedded broker on another address", append(base, "--pseudonym-key-file", keyPath, "--embedded-addr", "10.1.2.3:9092"), nil, 1, []string{`embedded-addr "10.1.2.3:9092" is not a loopback address`, "--brokers"}},
		{"bad unlisted teams", append(base, "--pseudonym-key-file", keyPath, "--unlisted-teams", "drop"), nil, 1, []string{`unlisted-teams "drop": use refuse`, "accept"}},
		{"broker without port", append(base, "--pseudonym-key-file", keyPath, "--brokers", "kafka"), nil, 1, []string{`broker "kafka" has no port`}},
		{"bad env value", append(base, "--pseudonym-key-file", keyPath), map[string]string{"SHOAL_BATCH_SIZE": "lots"}, 2, []string{"SHOAL_BATCH_SIZE", "lots"}},
		{"bad settle delay", append(base, "--pseudonym-key-file", keyPath, "--settle-delay", "-1h"), nil, 1, []string{`settle-delay -1h0m0s: use a duration from 0 to 672h`}},
		{"bad go memory limit", append(base, "--pseudonym-key-file", keyPath, "--go-memory-limit", "300"), nil, 1, []string{`go-memory-limit: "300" is not a size`, "320MiB"}},
		{"sql passwords in clear text off loopback", append(base, "--pseudonym-key-file", keyPath, "--sql-addr", "0.0.0.0:0", "--sql-users", sqlUsers), nil, 1, []string{"without TLS", "--sql-tls-cert", "--sql-insecure-plaintext"}},
		{"bad sql idle timeout", append(base, "--pseudonym-key-file", keyPath, "--sql-idle-timeout", "0s"), nil, 1, []string{"sql-idle-timeout must be positive, got 0s"}},
		{"sql per-address cap above the cap", append(base, "--pseudonym-key-file", keyPath, "--sql-max-conns-per-addr", "100"), nil, 1, []string{"sql-max-conns-per-addr must be between 1 and sql-max-conns (64), got 100"}},
		{"bad sql result size", append(base, "--pseudonym-key-file", keyPath, "--sql-max-result-bytes", "huge"), nil, 1, []string{`sql-max-result-bytes: "huge" is not a size`, "64MiB"}},
		{"bad log level", append(base, "--pseudonym-key-file", keyPath, "--log-level", "loud"), nil, 1, []string{`log-level "loud"`}},
		{"unknown flag", append(base, "--nosuch"), nil, 2, []string{"flag provided but not defined: -nosuch", "--help"}},
		{"stray argument", append(base, "extra"), nil, 2, []string{`unexpected argument "extra"`}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{`unknown command "frobnicate"`, "Commands:"}},
		{"publish without file", []string{"publish", "--brokers", "127.0.0.1:1"}, nil, 1, []string{"--file is required"}},
		{"publish without brokers", []string{"publish", "--file", "x.ndjson"}, nil, 1, []string{"--brokers is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestConfigPrecedence: flag > SHOAL_* env > YAML file > default.
func TestConfigPrecedence(t *testing.T) {
	t.Setenv("SHOAL_GROUP", "from-env")
	t.Setenv("SHOAL_BATCH_SIZE", "777")
	cfg := app.DefaultConfig("data")
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	err := parseLayered(fs, []string{"--config", "testdata/good.yaml", "--topic", "from-flag"}, &cfg, &cfg.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"topic (flag beats yaml)", cfg.Topic, "from-flag"},
		{"group (env beats yaml)", cfg.Group, "from-env"},
		{"dlq topic (yaml beats default)", cfg.DLQTopic, "acme.dlq"},
		{"brokers (yaml list)", cfg.Brokers.String(), "kafka-1:9092,kafka-2:9092"},
		{"batch latency (yaml)", cfg.BatchLatency.String(), (250 * time.Millisecond).String()},
		{"embedded addr (default)", cfg.EmbeddedAddr, "127.0.0.1:9092"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if cfg.BatchSize != 777 {
		t.Errorf("batch size (env beats yaml) = %d, want 777", cfg.BatchSize)
	}
	if err := cfg.Validate(true); err != nil {
		t.Errorf("good.yaml does not validate: %v", err)
	}
}

// TestHelp: every command explains itself; the text is kept in golden files.
func TestHelp(t *testing.T) {
	names := []string{""}
	for _, c := range commands() {
		names = append(names, c.name)
	}
	for _, name := range names {
		t.Run("help "+name, func(t *testing.T) {
			args := []string{"help"}
			if name != "" {
				args = []string{name, "--help"}
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			golden := filepath.Join("testdata", "help-"+name+".golden")
			if name == "" {
				golden = filepath.Join("testdata", "help.golden")
			}
			if *update {
				if err := os.WriteFile(golden, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (create it with: go test ./cmd/shoal -run TestHelp -update)", err)
			}
			if stdout != string(want) {
				t.Errorf("--help output changed; if intended, run: go test ./cmd/shoal -run TestHelp -update\n--- got\n%s", stdout)
			}
		})
	}
}

// TestReportCLIErrors: shoal report says what is wrong and what to do.
func TestReportCLIErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"no server", []string{"report", "--server", "http://127.0.0.1:1", "--out", t.TempDir()}, []string{"no Shoal is answering at http://127.0.0.1:1", "start `shoal run`"}},
		{"bad week", []string{"report", "--week", "2026-47"}, []string{"--week", `"2026-47"`, "e.g. 2026-W47"}},
		{"week out of range", []string{"report", "--week", "2027-W53"}, []string{"2027 has ISO weeks 1 to 52"}},
		{"bad format", []string{"report", "--format", "pdf"}, []string{`--format: format "pdf": use html, md or csv`}},
		{"bad server", []string{"report", "--server", "127.0.0.1:9464"}, []string{"give a URL such as http://127.0.0.1:9464"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
