package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

const webUserSummary = `Read a password from stdin and print a web configuration file (--web-config-file, the
Prometheus exporter-toolkit format) with one basic-auth user (--user) and the password's bcrypt
hash. Add tls_server_config to serve HTTPS; see README "Security". Example:

  head -c 24 /dev/urandom | base64 > secrets/prometheus.password
  shoal web-user --user prometheus < secrets/prometheus.password > secrets/web.yml`

// webUserCost is the bcrypt cost of the printed hash: each request with a
// new password pays it once (verdicts are cached), a guesser every time.
const webUserCost = 12

func runWebUser(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("web-user", webUserSummary, stdout, stderr)
	user := fs.String("user", "prometheus", "the user name")
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	return webUser(*user, os.Stdin, stdout)
}

func webUser(name string, in io.Reader, out io.Writer) error {
	if name == "" || strings.ContainsAny(name, ": \t\n\"'") {
		return fmt.Errorf("user name %q: use letters, digits, '-' or '_'", name)
	}
	pw, err := readPassword(in)
	if err != nil {
		return err
	}
	if len(pw) > 72 {
		return errors.New("the password must have at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), webUserCost)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "# Shoal's HTTP endpoint (--web-config-file). Add tls_server_config for HTTPS.\nbasic_auth_users:\n  %s: %s\n", name, h)
	return nil
}
