package app

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
	"golang.org/x/crypto/bcrypt"
)

// webAuth is the HTTP endpoint's access control, configured the way
// Prometheus exporters are: prometheus/exporter-toolkit's web
// configuration file (--web-config-file: tls_server_config,
// http_server_config, basic_auth_users with bcrypt hashes). The file is
// read again when it changes, so users and certificates rotate without a
// restart. Unlike the toolkit's own server, which authenticates every
// path, the health probes stay open (an orchestrator must not need the
// password), /metrics follows the file (open without users, as Prometheus
// exporters are), and the reports and admin routes always need a user:
// without basic_auth_users they answer only clients on the loopback
// interface.
type webAuth struct {
	path string // "" = no file

	mu      sync.Mutex
	loaded  fileStamp
	cfg     *web.Config
	verify  sync.Mutex        // one bcrypt comparison at a time: it is CPU-bound by design
	checked map[[32]byte]bool // sha256(user, hash, password) → verdict, bounded
}

type fileStamp struct {
	size    int64
	modUnix int64
}

// maxAuthCache bounds the remembered verdicts; the map is reset when full.
const maxAuthCache = 1024

// newWebAuth validates the web configuration file at path ("" = none) as
// the exporter toolkit does (bcrypt hashes, TLS files) and returns the
// access control it describes.
func newWebAuth(path string) (*webAuth, error) {
	a := &webAuth{path: path, checked: map[[32]byte]bool{}}
	if path == "" {
		return a, nil
	}
	if err := web.Validate(path); err != nil {
		return nil, fmt.Errorf("--web-config-file %s: %w (see https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md; passwords are bcrypt hashes, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)", path, err)
	}
	if _, err := a.config(); err != nil {
		return nil, err
	}
	return a, nil
}

// config returns the file's configuration, read again when the file
// changed (size or modification time).
func (a *webAuth) config() (*web.Config, error) {
	if a.path == "" {
		return &web.Config{}, nil
	}
	fi, err := os.Stat(a.path)
	if err != nil {
		return nil, fmt.Errorf("--web-config-file: %w", err)
	}
	stamp := fileStamp{fi.Size(), fi.ModTime().UnixNano()}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg != nil && stamp == a.loaded {
		return a.cfg, nil
	}
	b, err := os.ReadFile(a.path)
	if err != nil {
		return nil, fmt.Errorf("--web-config-file: %w", err)
	}
	c := &web.Config{
		TLSConfig:  web.TLSConfig{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13, PreferServerCipherSuites: true},
		HTTPConfig: web.HTTPConfig{HTTP2: true},
	}
	if err := yaml.UnmarshalStrict(b, c); err != nil {
		return nil, fmt.Errorf("--web-config-file %s: %w", a.path, err)
	}
	c.TLSConfig.SetDirectory(filepath.Dir(a.path))
	a.cfg, a.loaded = c, stamp
	clear(a.checked)
	return c, nil
}

// tlsConfig is the server's TLS configuration when the file configures
// TLS (nil otherwise); each handshake takes the file as it is then.
func (a *webAuth) tlsConfig() (*tls.Config, error) {
	c, err := a.config()
	if err != nil {
		return nil, err
	}
	if c.TLSConfig.TLSCertPath == "" && c.TLSConfig.TLSCert == "" {
		return nil, nil
	}
	if _, err := web.ConfigToTLSConfig(&c.TLSConfig); err != nil {
		return nil, fmt.Errorf("--web-config-file %s: %w", a.path, err)
	}
	return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := a.config()
		if err != nil {
			return nil, err
		}
		return web.ConfigToTLSConfig(&c.TLSConfig)
	}}, nil
}

// access is who may use a route.
type access int

const (
	open      access = iota // health probes
	asConfigd               // /metrics: a user when the file has users
	userOnly                // reports, admin: a user, or loopback without users
)

// wrap returns h behind the access rule a.
func (a *webAuth) wrap(rule access, h http.Handler) http.Handler {
	if rule == open {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.config()
		if err != nil {
			http.Error(w, "the web configuration file cannot be read; see the log", http.StatusInternalServerError)
			return
		}
		for k, v := range c.HTTPConfig.Header {
			w.Header().Set(k, v)
		}
		if len(c.Users) == 0 {
			if rule == userOnly && !loopback(r.RemoteAddr) {
				http.Error(w, "reports and admin routes need a user: configure basic_auth_users in --web-config-file (bcrypt hashes), or ask from the machine Shoal runs on", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		if user, pass, ok := r.BasicAuth(); ok && a.valid(c, user, pass) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="shoal", charset="UTF-8"`)
		http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
	})
}

// fakeHash is the bcrypt hash of a password nobody has, compared for an
// unknown user so that a guess takes as long whether the user exists or
// not.
const fakeHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

// valid checks a user's password against the file's bcrypt hash, one
// comparison at a time, remembering verdicts (keyed by a hash of user,
// stored hash and password) so that a scraper's every request does not
// pay bcrypt.
func (a *webAuth) valid(c *web.Config, user, pass string) bool {
	hash, known := c.Users[user]
	if !known {
		hash = fakeHash
	}
	key := sha256.Sum256([]byte(fmt.Sprintf("%d:%s%d:%s%s", len(user), user, len(hash), string(hash), pass)))
	a.mu.Lock()
	verdict, seen := a.checked[key]
	a.mu.Unlock()
	if !seen {
		a.verify.Lock()
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pass))
		a.verify.Unlock()
		verdict = known && err == nil
		a.mu.Lock()
		if len(a.checked) >= maxAuthCache {
			clear(a.checked)
		}
		a.checked[key] = verdict
		a.mu.Unlock()
	}
	return verdict && known
}

// loopback reports whether a request's remote address is on the loopback
// interface.
func loopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
