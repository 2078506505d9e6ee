package app

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/internal/wait"
)

// TestEmbeddedBrokerKeepsNoRawIDs publishes events with known raw person
// ids through the embedded broker and, once Shoal has caught up and its
// idle checkpoint has run, finds none of those ids in any file under the
// data directory, the broker's log included (issue 22: the log held every
// raw e-mail for ever).
func TestEmbeddedBrokerKeepsNoRawIDs(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	dataDir := t.TempDir()
	p, _ := testPipeline(t, "unused:9092", dataDir, org, &apptest.SyncBuffer{}, func(c *Config) {
		c.Brokers = nil // the embedded broker, in dataDir/kafka
		c.EmbeddedAddr = "127.0.0.1:0"
		c.IdleCheckpoint = 300 * time.Millisecond
	})
	apptest.Publish(t, p.Brokers()[0], p.cfg.Topic, msgs)
	waitCaughtUp(t, p)
	raw := org.RawPeople()
	found := func() (string, string) {
		var file, id string
		filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || file != "" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			b = bytes.ToLower(b)
			for _, r := range raw {
				if bytes.Contains(b, []byte(strings.ToLower(r))) {
					file, id = path, r
					return filepath.SkipAll
				}
			}
			return nil
		})
		return file, id
	}
	if file, _ := found(); file == "" {
		t.Fatal("no raw id in the data directory even before trimming: the test would prove nothing")
	}
	if !wait.Until(60*time.Second, func() bool { f, _ := found(); return f == "" }) {
		f, id := found()
		rel, _ := filepath.Rel(dataDir, f)
		t.Fatalf("after the idle checkpoint, %s still holds raw person id %q", rel, id)
	}
}
