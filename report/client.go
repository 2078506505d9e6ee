package report

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Client is how Fetch reaches the server: the HTTP client (nil: the
// default one; give it the server's CA for TLS) and the basic-auth user
// and password of the server's web configuration ("" user: none).
type Client struct {
	HTTP           *http.Client
	User, Password string
}

// Fetch gets a report from the Shoal whose HTTP endpoint is server (a URL
// such as http://127.0.0.1:9464): stem is an ISO week (2026-W47) or
// last-week, f its format. It returns the report's file name, as the
// server names it, and its bytes. The server renders it; nothing here
// opens the store.
func (c Client) Fetch(ctx context.Context, server, stem string, f Format) (name string, body []byte, err error) {
	base := strings.TrimRight(server, "/")
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return "", nil, fmt.Errorf("--server %q: give a URL such as http://127.0.0.1:9464", server)
	}
	url := base + "/reports/" + stem + "." + string(f)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		return "", nil, fmt.Errorf("--server %q: %w", server, err)
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", nil, fmt.Errorf("no Shoal is answering at %s (%w): start `shoal run` (or `shoal demo`) first, or point --server at its --http-addr", base, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return "", nil, fmt.Errorf("read report from %s: %w", url, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return "", nil, fmt.Errorf("%s answered %s: give a user of the server's --web-config-file with --user and its password in SHOAL_WEB_PASSWORD", url, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("%s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	name = stem + "." + string(f)
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && FilePattern.MatchString(params["filename"]) {
		name = params["filename"]
	}
	return name, body, nil
}
