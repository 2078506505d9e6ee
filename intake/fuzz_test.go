package intake

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzMap: no delivery makes a source panic, and whatever a source maps
// either encodes as a contract event or is refused by the encoder.
func FuzzMap(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(filepath.Base(filepath.Dir(p)), b)
	}
	headers := map[string]http.Header{
		"github":      {"X-Github-Event": {"issues"}},
		"gitlab":      {"X-Gitlab-Event": {"Issue Hook"}},
		"jira":        {},
		"cloudevents": {"Content-Type": {"application/cloudevents+json"}},
	}
	srcs := map[string]Source{}
	for _, s := range Builtin() {
		srcs[s.Name()] = s
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		src, ok := srcs[name]
		if !ok {
			return
		}
		acts, err := src.Map(Delivery{Header: headers[name], Body: body}, SourceConfig{Kinds: map[string]string{"bug": "bug"}})
		if err != nil {
			return
		}
		for _, a := range acts {
			_, _ = encode(a, "intake/"+name, "team-x", "p_000000000000000000000000")
		}
	})
}
