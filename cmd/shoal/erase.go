package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/app"
)

const eraseSummary = `Erase people from a running Shoal: every stored event and per-person row of each id, as the
sources send it (e-mail address, tool user id). The server pseudonymizes the ids with its key,
deletes the rows, derives the touched teams' unreleased figures again without them, rewrites its
DuckDB file so no byte of the deleted rows is left, and trims the embedded broker's log. Released
weeks do not change: each released figure describes at least k people under the disclosure rules
(docs/privacy.md, "Retention and erasure"). The server records the erasure with its time and
counts, never an id. This command never opens the DuckDB file: the running server owns it.

Events of an erased person that arrive afterwards are stored again: remove them from the
sources (or the people file) first.`

func runErase(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("erase", eraseSummary, stdout, stderr)
	var persons stringsFlag
	fs.Var(&persons, "person", "a person id to erase, as the sources send it (repeat the flag for several)")
	file := fs.String("file", "", "file with one person id a line (blank lines and lines starting with # are skipped); - reads stdin")
	srv := addServerFlags(fs)
	if err := parseFlags(fs, args, nil, nil, stdout); err != nil {
		return err
	}
	ids := append([]string(nil), persons...)
	if *file != "" {
		var r io.Reader = os.Stdin
		if *file != "-" {
			f, err := os.Open(*file)
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			defer f.Close()
			r = f
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("--file: %w", err)
		}
		for line := range strings.Lines(string(b)) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				ids = append(ids, line)
			}
		}
	}
	if len(ids) == 0 {
		return errors.New("no person to erase: give --person ID (repeatable) or --file FILE")
	}
	hc, password, err := srv.client()
	if err != nil {
		return err
	}
	res, err := postErase(ctx, hc, *srv.server, *srv.user, password, ids)
	if err != nil {
		return err
	}
	var found int
	for _, p := range res.Persons {
		if p.Events+p.PersonRows == 0 {
			fmt.Fprintf(stdout, "%s: nothing stored (no event or per-person row has this id's pseudonym)\n", p.Person)
			continue
		}
		found++
		fmt.Fprintf(stdout, "%s: erased %d events and %d per-person rows\n", p.Person, p.Events, p.PersonRows)
	}
	if found > 0 {
		fmt.Fprintf(stdout, "%d of %d erased; %d teams' unreleased figures derived again; DuckDB file rewritten without the deleted rows in %.1fs\n",
			found, len(res.Persons), res.Teams, res.CompactSeconds)
	}
	return nil
}

// postErase sends the ids to the server's POST /-/erase.
func postErase(ctx context.Context, hc *http.Client, server, user, password string, ids []string) (app.EraseResponse, error) {
	var res app.EraseResponse
	base := strings.TrimRight(server, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return res, fmt.Errorf("--server %q: give a URL such as http://127.0.0.1:9464", server)
	}
	body, err := json.Marshal(app.EraseRequest{Persons: ids})
	if err != nil {
		return res, err
	}
	// An erasure rewrites the DuckDB file: minutes on a large store.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, base+"/-/erase", bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("--server %q: %w", server, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return res, fmt.Errorf("no Shoal is answering at %s (%w): erasure goes through the running server (it owns the DuckDB file); start `shoal run`, or point --server at its --http-addr", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return res, fmt.Errorf("read the answer of %s: %w", base, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return res, fmt.Errorf("%s answered %s: give a user of the server's --web-config-file with --user and its password in SHOAL_WEB_PASSWORD", base, resp.Status)
	case resp.StatusCode == http.StatusForbidden:
		return res, fmt.Errorf("%s answered %s: %s", base, resp.Status, strings.TrimSpace(string(b)))
	case resp.StatusCode != http.StatusOK:
		return res, fmt.Errorf("erasure failed: %s answered %s: %s", base, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, fmt.Errorf("the answer of %s is not an erasure result: %w", base, err)
	}
	return res, nil
}

// stringsFlag is a flag that may be given several times.
type stringsFlag []string

func (f *stringsFlag) String() string     { return strings.Join(*f, " ") }
func (f *stringsFlag) Set(v string) error { *f = append(*f, v); return nil }
