package intake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shoal-analytics/shoal/event"
)

// ErrSourcesFile is wrapped by every problem of a sources file.
var ErrSourcesFile = errors.New("sources file")

// DefaultMaxBodyBytes caps a delivery's body. Issue and pull request
// payloads are tens of kilobytes; Jira's with every field a few hundred.
const DefaultMaxBodyBytes = 4 << 20

// MinSecretBytes is the shortest webhook secret accepted.
const MinSecretBytes = 16

// Sources is a parsed sources file: for each configured source its
// secret, the mapping of its scopes to teams and its mapping settings.
type Sources struct {
	// MaxBodyBytes caps a delivery's body (413 above). Default: 4 MiB
	MaxBodyBytes int64
	entries      map[string]*sourceEntry
}

type sourceEntry struct {
	secret []byte
	scopes map[string]string // lower-cased scope → team
	cfg    SourceConfig
}

// configured returns the settings of the source called name, nil when the
// file does not configure it.
func (s *Sources) configured(name string) *sourceEntry {
	if s == nil {
		return nil
	}
	return s.entries[name]
}

// Names lists the configured sources, sorted.
func (s *Sources) Names() []string {
	var out []string
	for n := range s.entries {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

type sourcesFile struct {
	MaxBodyBytes int64                  `yaml:"max_body_bytes"`
	Sources      map[string]*sourceYAML `yaml:"sources"`
}

type sourceYAML struct {
	SecretFile      string            `yaml:"secret_file"`
	Scopes          map[string]string `yaml:"scopes"`
	Bots            []string          `yaml:"bots"`
	States          map[string]string `yaml:"states"`
	Kinds           map[string]string `yaml:"kinds"`
	Categories      map[string]string `yaml:"categories"`
	DefaultCategory string            `yaml:"default_category"`
}

// stateTypes are the task event types a status name may map to.
var stateTypes = []string{event.TaskStarted, event.TaskCompleted, event.TaskBlocked, event.TaskUnblocked, event.TaskCancelled, event.TaskReopened}

// LoadSources reads the sources file at path and the secret files it
// names (relative paths are relative to the file's directory). known are
// the source names the intake serves.
func LoadSources(path string, known []string) (*Sources, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (pass --sources with the file that configures each webhook source; docs/sources.md shows one)", ErrSourcesFile, err)
	}
	return ParseSources(path, b, filepath.Dir(path), known)
}

// ParseSources parses a sources file (name for messages, dir for relative
// secret_file paths). Every problem is reported.
func ParseSources(name string, data []byte, dir string, known []string) (*Sources, error) {
	var f sourcesFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w %s: the file is empty; configure at least one source under sources: (docs/sources.md)", ErrSourcesFile, name)
		}
		return nil, fmt.Errorf("%w %s: %s (docs/sources.md describes the sources file)", ErrSourcesFile, name, yamlErr(err))
	}
	lines := keyLines(data, "sources")
	var errs []error
	bad := func(src, format string, args ...any) {
		at := name
		if l := lines[src]; l > 0 {
			at = fmt.Sprintf("%s:%d", name, l)
		}
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrSourcesFile, at, fmt.Sprintf(format, args...)))
	}
	s := &Sources{MaxBodyBytes: f.MaxBodyBytes, entries: map[string]*sourceEntry{}}
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if s.MaxBodyBytes < 64<<10 || s.MaxBodyBytes > 64<<20 {
		bad("", "max_body_bytes %d is out of range; use 65536 to 67108864 (default 4194304)", f.MaxBodyBytes)
	}
	if len(f.Sources) == 0 {
		bad("", "no sources configured; list at least one of %s under sources:", strings.Join(known, ", "))
	}
	for n, y := range f.Sources {
		if !slices.Contains(known, n) {
			bad(n, "sources.%s: not a source the intake knows; use %s", n, strings.Join(known, ", "))
			continue
		}
		if y == nil {
			bad(n, "sources.%s is empty; it needs at least secret_file", n)
			continue
		}
		e := &sourceEntry{scopes: map[string]string{}, cfg: SourceConfig{
			States: map[string]string{}, Kinds: map[string]string{}, Categories: map[string]string{}, DefaultCategory: y.DefaultCategory,
		}}
		if y.SecretFile == "" {
			bad(n, "sources.%s.secret_file is missing; put the webhook secret you configure in %s in a file readable only by Shoal and name it here", n, n)
		} else {
			p := y.SecretFile
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			sec, err := os.ReadFile(p)
			sec = bytes.TrimSpace(sec)
			switch {
			case err != nil:
				bad(n, "sources.%s.secret_file: %v; create it with the secret you give %s (e.g. head -c 32 /dev/urandom | base64 > %s)", n, err, n, p)
			case len(sec) < MinSecretBytes:
				bad(n, "sources.%s.secret_file %s holds %d bytes; use a secret of at least %d (e.g. head -c 32 /dev/urandom | base64 > %s) and give %s the same", n, p, len(sec), MinSecretBytes, p, n)
			default:
				e.secret = sec
			}
		}
		for scope, team := range y.Scopes {
			if strings.TrimSpace(team) == "" {
				bad(n, "sources.%s.scopes.%s has no team; map it to a team id", n, scope)
				continue
			}
			e.scopes[normalize(scope)] = strings.TrimSpace(team)
		}
		for _, b := range y.Bots {
			e.cfg.Bots = append(e.cfg.Bots, normalize(b))
		}
		for st, typ := range y.States {
			if !strings.HasPrefix(typ, "work.task.") {
				typ = "work.task." + typ
			}
			if !slices.Contains(stateTypes, typ) {
				bad(n, "sources.%s.states.%s: %q is not a task event; use started, completed, blocked, unblocked, cancelled or reopened", n, st, y.States[st])
				continue
			}
			e.cfg.States[normalize(st)] = typ
		}
		for k, kind := range y.Kinds {
			if !slices.Contains(event.TaskKinds, kind) {
				bad(n, "sources.%s.kinds.%s: %q is not a task kind; use %s", n, k, kind, strings.Join(event.TaskKinds, ", "))
				continue
			}
			e.cfg.Kinds[normalize(k)] = kind
		}
		for c, cat := range y.Categories {
			if !slices.Contains(event.Categories, cat) {
				bad(n, "sources.%s.categories.%s: %q is not a time category; use %s", n, c, cat, strings.Join(event.Categories, ", "))
				continue
			}
			e.cfg.Categories[normalize(c)] = cat
		}
		if y.DefaultCategory != "" && !slices.Contains(event.Categories, y.DefaultCategory) {
			bad(n, "sources.%s.default_category: %q is not a time category; use %s", n, y.DefaultCategory, strings.Join(event.Categories, ", "))
		}
		s.entries[n] = e
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// keyLines returns the line of each key of the top-level mapping key ("" →
// the line of key itself), for error messages.
func keyLines(data []byte, key string) map[string]int {
	out := map[string]int{}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return out
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			out[""] = root.Content[i].Line
			m := root.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				out[m.Content[j].Value] = m.Content[j].Line
			}
		}
	}
	return out
}
