package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/report"
)

// TestWebAccessRules: without users, /metrics and the health probes are
// open and the reports and admin routes answer loopback clients only.
func TestWebAccessRules(t *testing.T) {
	a, err := newWebAuth("")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	for _, tc := range []struct {
		rule   access
		remote string
		want   int
	}{
		{open, "192.0.2.7:4242", 200},
		{asConfigd, "192.0.2.7:4242", 200},
		{userOnly, "192.0.2.7:4242", http.StatusForbidden},
		{userOnly, "[2001:db8::1]:4242", http.StatusForbidden},
		{userOnly, "127.0.0.1:4242", 200},
		{userOnly, "[::1]:4242", 200},
	} {
		r := httptest.NewRequest("GET", "/reports/", nil)
		r.RemoteAddr = tc.remote
		w := httptest.NewRecorder()
		a.wrap(tc.rule, ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("rule %d from %s: %d, want %d (%s)", tc.rule, tc.remote, w.Code, tc.want, w.Body)
		}
	}
}

// TestWebConfig runs Shoal with an exporter-toolkit web configuration
// (TLS and a bcrypt user) and checks over real HTTPS: the health probes
// answer anyone; /metrics, the reports and /-/reload need the user; a
// wrong password and an unknown user are refused; 50 reloads of an
// unchanged teams file at once republish nothing; and a report rendered
// on request is not written to disk.
func TestWebConfig(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-for-prometheus"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	if err := os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: "+filepath.Base(cert)+"\n  key_file: "+filepath.Base(key)+
		"\nbasic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	logs := &apptest.SyncBuffer{}
	dataDir := t.TempDir()
	p, _ := testPipeline(t, addr, dataDir, org, logs, func(c *Config) {
		c.WebConfigFile = webCfg
		c.SQL.Addr, c.SQL.AllowAnonymous = "127.0.0.1:0", true
	})
	waitCaughtUp(t, p)
	release(t, p)
	if !strings.HasPrefix(p.URL(), "https://") {
		t.Fatalf("URL %s: want https with a TLS web config", p.URL())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	do := func(method, path, user, pass string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, p.URL()+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path, user, pass string
		want                     int
	}{
		{"GET", "/healthz", "", "", 200},
		{"GET", "/readyz", "", "", 200},
		{"GET", "/metrics", "", "", 401},
		{"GET", "/metrics", "prometheus", "wrong", 401},
		{"GET", "/metrics", "nobody", "s3cret-for-prometheus", 401},
		{"GET", "/metrics", "prometheus", "s3cret-for-prometheus", 200},
		{"GET", "/reports/", "", "", 401},
		{"GET", "/reports/2026-W47.md", "", "", 401},
		{"GET", "/reports/2026-W47.md", "prometheus", "s3cret-for-prometheus", 200},
		{"POST", "/-/reload", "", "", 401},
		{"POST", "/-/reload", "prometheus", "s3cret-for-prometheus", 200},
	} {
		if got, body := do(tc.method, tc.path, tc.user, tc.pass); got != tc.want {
			t.Errorf("%s %s as %q: %d, want %d: %.200s", tc.method, tc.path, tc.user, got, tc.want, body)
		}
	}
	// `shoal report`'s client: the server's certificate as its CA, the user.
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	rc := report.Client{HTTP: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}, User: "prometheus", Password: "s3cret-for-prometheus"}
	if _, body, err := rc.Fetch(context.Background(), p.URL(), "last-week", report.Markdown); err != nil || !strings.Contains(string(body), "Week 47, 2026") {
		t.Errorf("report client over TLS with the user: %v", err)
	}
	rc.Password = "wrong"
	if _, _, err := rc.Fetch(context.Background(), p.URL(), "last-week", report.Markdown); err == nil || !strings.Contains(err.Error(), "SHOAL_WEB_PASSWORD") {
		t.Errorf("report client with a wrong password: %v, want a 401 that says how to authenticate", err)
	}

	// Plain HTTP on the TLS port gets nothing.
	if resp, err := http.Get(strings.Replace(p.URL(), "https://", "http://", 1) + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "shoal_") {
			t.Error("plain HTTP on the TLS port served metrics")
		}
	}

	// Reloads of an unchanged file coalesce: none republishes the SQL
	// tables.
	published := func() int { return strings.Count(string(logs.Bytes()), `msg="SQL tables published"`) }
	before := published()
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if code, body := do("POST", "/-/reload", "prometheus", "s3cret-for-prometheus"); code != 200 || !strings.Contains(body, "unchanged") {
				t.Errorf("reload of an unchanged file: %d %q", code, body)
			}
		})
	}
	wg.Wait()
	if n := published() - before; n != 0 {
		t.Errorf("50 reloads of an unchanged teams file republished the SQL tables %d times", n)
	}

	// A report asked for is rendered, not written.
	if err := os.RemoveAll(filepath.Join(dataDir, "reports")); err != nil {
		t.Fatal(err)
	}
	if code, _ := do("GET", "/reports/2026-W46.csv", "prometheus", "s3cret-for-prometheus"); code != 200 {
		t.Fatalf("GET a released week's report: %d", code)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "reports")); !os.IsNotExist(err) {
		t.Errorf("a report rendered on request was written to disk (%v)", err)
	}
}
