package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/app"
	"github.com/shoal-analytics/shoal/app/apptest"
	sqlserver "github.com/shoal-analytics/shoal/sql"
)

const sqlTestPassword = "correct horse battery staple"

// TestSQLCommand: shoal sql queries a running Shoal's SQL endpoint and
// prints a table, CSV or JSON; a refused statement and a missing password
// say so; --hash-password prints a users-file line.
func TestSQLCommand(t *testing.T) {
	dir := t.TempDir()
	hash, err := sqlserver.HashPassword(sqlTestPassword)
	if err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "sql-users")
	if err := os.WriteFile(users, []byte("analyst:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org, _ := apptest.SmallOrg()
	p := startApp(t, org, nil, func(c *app.Config) { c.SQL.Addr, c.SQL.Users = "127.0.0.1:0", users })
	e := struct{ addr string }{p.SQLAddr()}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte(sqlTestPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := "SELECT id, family, daily FROM shoal.metric_catalog WHERE id IN ('tasks_completed', 'work_in_progress') ORDER BY id"
	base := []string{"sql", "--addr", e.addr, "--password-file", pw, "--tls", "disable"}
	code, out, errOut := runCLI(t, append(base, q)...)
	want := "id               | family | daily\n" +
		"-----------------+--------+------\n" +
		"tasks_completed  | flow   | t\n" +
		"work_in_progress | flow   | f\n" +
		"(2 rows)\n"
	if code != 0 || out != want {
		t.Errorf("table: exit %d, stderr %s\n--- got\n%s--- want\n%s", code, errOut, out, want)
	}
	code, out, _ = runCLI(t, append(base, "--format", "csv", q)...)
	if code != 0 || out != "id,family,daily\ntasks_completed,flow,t\nwork_in_progress,flow,f\n" {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, append(append(base, q), "--format", "json")...)
	if code != 0 || !strings.Contains(out, `"daily": true`) || !strings.Contains(out, `"id": "tasks_completed"`) {
		t.Errorf("json (flags after the statement): exit %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, append(base, "DROP TABLE shoal.metric_catalog")...)
	if code != 1 || !strings.Contains(errOut, "read-only") {
		t.Errorf("refused statement: exit %d, %s", code, errOut)
	}
	code, _, errOut = runCLI(t, "sql", "--addr", e.addr, "--tls", "disable", "--password-file", os.DevNull, "SELECT 1")
	if code != 1 || !strings.Contains(errOut, "password") {
		t.Errorf("no password: exit %d, %s", code, errOut)
	}
	var hashed strings.Builder
	if err := hashPassword("bob", strings.NewReader("a long enough password\n"), &hashed); err != nil || !strings.HasPrefix(hashed.String(), "bob:pbkdf2-sha256$600000$") {
		t.Errorf("--hash-password: %q %v", hashed.String(), err)
	}
}
