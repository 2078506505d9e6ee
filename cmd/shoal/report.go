package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/shoal-analytics/shoal/report"
)

const reportSummary = `Fetch the weekly HR report of an ISO week from a running Shoal (shoal run or shoal demo)
and write it to --out. The report is rendered by the server, which owns the DuckDB file;
this command never opens it. Default week: the last released ISO week (a week is released once it has ended plus the
settle delay, and never changes; an unreleased week answers with when it will be).`

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", reportSummary, stdout, stderr)
	weekFlag := fs.String("week", "", "ISO week to report, e.g. 2026-W47 (default: the last released week)")
	formatFlag := fs.String("format", "html", "html (one self-contained file), md (Markdown) or csv")
	out := fs.String("out", ".", "directory to write the report into (named like 2026-W47.html); - writes it to stdout")
	srv := addServerFlags(fs)
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	f, err := report.ParseFormat(*formatFlag)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	stem := "last-week"
	if *weekFlag != "" {
		w, err := report.ParseWeek(*weekFlag)
		if err != nil {
			return fmt.Errorf("--week: %w", err)
		}
		stem = w.String()
	}
	hc, password, err := srv.client()
	if err != nil {
		return err
	}
	client := report.Client{HTTP: hc, User: *srv.user, Password: password}
	name, body, err := client.Fetch(ctx, *srv.server, stem, f)
	if err != nil {
		return err
	}
	if *out == "-" {
		_, err := stdout.Write(body)
		return err
	}
	if err := os.MkdirAll(*out, 0o750); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	path := filepath.Join(*out, name)
	if err := os.WriteFile(path, body, 0o640); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", path, len(body))
	return nil
}

// serverFlags are the flags of a command that talks to a running Shoal's
// HTTP endpoint (report, erase).
type serverFlags struct{ server, user, caFile *string }

func addServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		server: fs.String("server", "http://127.0.0.1:9464", "base URL of the running Shoal's HTTP endpoint (its --http-addr; https:// when its --web-config-file has TLS)"),
		user:   fs.String("user", "", "basic-auth user of the server's --web-config-file; the password is read from the SHOAL_WEB_PASSWORD environment variable"),
		caFile: fs.String("ca-file", "", "PEM file of the CA (or the self-signed certificate) that the server's TLS certificate is checked against (default: the system's roots)"),
	}
}

// client is the HTTP client (nil: the default) and the password of the
// flags' user.
func (f serverFlags) client() (*http.Client, string, error) {
	password := os.Getenv("SHOAL_WEB_PASSWORD")
	if *f.user != "" && password == "" {
		return nil, "", fmt.Errorf("--user %s: set the password in the SHOAL_WEB_PASSWORD environment variable (never on the command line, where other users can read it)", *f.user)
	}
	if *f.caFile == "" {
		return nil, password, nil
	}
	pem, err := os.ReadFile(*f.caFile)
	if err != nil {
		return nil, "", fmt.Errorf("--ca-file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, "", fmt.Errorf("--ca-file %s: no PEM certificate in it", *f.caFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}, password, nil
}
