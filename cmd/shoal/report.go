package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
	server := fs.String("server", "http://127.0.0.1:9464", "base URL of the running Shoal's HTTP endpoint (its --http-addr; https:// when its --web-config-file has TLS)")
	user := fs.String("user", "", "basic-auth user of the server's --web-config-file; the password is read from the SHOAL_WEB_PASSWORD environment variable")
	caFile := fs.String("ca-file", "", "PEM file of the CA (or the self-signed certificate) that the server's TLS certificate is checked against (default: the system's roots)")
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
	client := report.Client{User: *user, Password: os.Getenv("SHOAL_WEB_PASSWORD")}
	if *user != "" && client.Password == "" {
		return fmt.Errorf("--user %s: set the password in the SHOAL_WEB_PASSWORD environment variable (never on the command line, where other users can read it)", *user)
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca-file %s: no PEM certificate in it", *caFile)
		}
		client.HTTP = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	}
	name, body, err := client.Fetch(ctx, *server, stem, f)
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
