package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// TestWebUser: the printed file is a web configuration the exporter
// toolkit accepts, with the password's bcrypt hash; short passwords and
// odd names are refused.
func TestWebUser(t *testing.T) {
	var out bytes.Buffer
	if err := webUser("prometheus", strings.NewReader("correct horse battery\n"), &out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "web.yml")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := web.Validate(path); err != nil {
		t.Fatalf("web.Validate: %v\n%s", err, out.String())
	}
	var cfg struct {
		Users map[string]string `yaml:"basic_auth_users"`
	}
	if err := yaml.Unmarshal(out.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(cfg.Users["prometheus"]), []byte("correct horse battery")); err != nil {
		t.Errorf("the hash does not match the password: %v", err)
	}
	for _, bad := range []struct{ name, pw, want string }{
		{"prometheus", "short\n", "at least 12"},
		{"a:b", "correct horse battery\n", "user name"},
		{"prometheus", strings.Repeat("x", 80) + "\n", "at most 72"},
	} {
		if err := webUser(bad.name, strings.NewReader(bad.pw), &out); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("webUser(%q, %d bytes): %v, want an error saying %q", bad.name, len(bad.pw), err, bad.want)
		}
	}
}
