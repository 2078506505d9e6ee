package privacy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkPseudonym measures pseudonymizing person ids: "cached" is the
// steady state (a population of 10k people seen again and again), "cold"
// computes HMAC-SHA256 for every call.
func BenchmarkPseudonym(b *testing.B) {
	key := make([]byte, MinKeyBytes)
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("person.%05d@acme.example", i)
	}
	b.Run("cached", func(b *testing.B) {
		p, _ := NewPseudonymizer(key)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if s := p.Pseudonym(ids[i%len(ids)]); !IsPseudonym(s) {
				b.Fatal(s)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		p, _ := NewPseudonymizer(key)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if s := p.compute(ids[i%len(ids)]); !IsPseudonym(s) {
				b.Fatal(s)
			}
		}
	})
}

func TestPseudonymKeyed(t *testing.T) {
	a, _ := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := NewPseudonymizer([]byte("fedcba9876543210fedcba9876543210"))
	x := a.Pseudonym(" Alice@X.org")
	if !IsPseudonym(x) || x != a.Pseudonym("alice@x.org") {
		t.Errorf("pseudonym %q: want the shape and case/space-insensitive equality", x)
	}
	if x == b.Pseudonym("alice@x.org") {
		t.Error("two keys gave the same pseudonym")
	}
	if a.Pseudonym("") != "" {
		t.Error("empty id must stay empty")
	}
	if _, err := NewPseudonymizer(make([]byte, MinKeyBytes-1)); err == nil {
		t.Error("short key accepted")
	}
}

// TestLoadKeyFileNewline: a key from `head -c 32 /dev/urandom` that ends in
// '\n' (one file in 256) keeps all 32 bytes; a key written with echo loses
// its newline; a short key is refused.
func TestLoadKeyFileNewline(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		content string
		want    string // "" = refused
	}{
		{"random ending in newline", strings.Repeat("k", 31) + "\n", strings.Repeat("k", 31) + "\n"},
		{"echo", strings.Repeat("k", 32) + "\n", strings.Repeat("k", 32)},
		{"exact", strings.Repeat("k", 32), strings.Repeat("k", 32)},
		{"short", strings.Repeat("k", 30) + "\n", ""},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := LoadKeyFile(path)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: accepted a %d-byte key", tc.name, len(got))
		case tc.want != "" && (err != nil || string(got) != tc.want):
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// TestKeyedIDs: task and request ids become keyed ids of their own shape,
// stable for the same bytes, different per key and per kind, and neither
// the raw id nor a person's pseudonym of the same text.
func TestKeyedIDs(t *testing.T) {
	a, _ := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := NewPseudonymizer([]byte("fedcba9876543210fedcba9876543210"))
	raw := []byte("ORCA-101")
	task, req := a.TaskID(raw), a.RequestID(raw)
	if !IsKeyedID(task, TaskIDPrefix) || !IsKeyedID(req, RequestIDPrefix) {
		t.Fatalf("TaskID %q / RequestID %q do not have the keyed-id shape", task, req)
	}
	if task != a.TaskID([]byte("ORCA-101")) || req != a.RequestID([]byte("ORCA-101")) {
		t.Error("the same id gave two keyed ids")
	}
	if a.TaskID([]byte("orca-101")) == task || a.TaskID([]byte("ORCA-101 ")) == task {
		t.Error("task ids are exact: case and spaces must count")
	}
	if b.TaskID(raw) == task {
		t.Error("two keys gave the same keyed task id")
	}
	if task[len(TaskIDPrefix):] == req[len(RequestIDPrefix):] {
		t.Error("a task and a request with the same id hash alike: the kinds share a key")
	}
	entry := a.EntryID(raw)
	if !IsKeyedID(entry, EntryIDPrefix) || entry != a.EntryID([]byte("ORCA-101")) {
		t.Fatalf("EntryID %q does not have the keyed-id shape or is not stable", entry)
	}
	if entry[len(EntryIDPrefix):] == task[len(TaskIDPrefix):] || entry[len(EntryIDPrefix):] == req[len(RequestIDPrefix):] {
		t.Error("a time entry hashes like a task or request with the same id: the kinds share a key")
	}
	if p := a.Pseudonym("orca-101"); task[len(TaskIDPrefix):len(TaskIDPrefix)+24] == p[len(PseudonymPrefix):] {
		t.Error("a keyed task id equals the person pseudonym of the same text")
	}
	if strings.Contains(task, "ORCA") {
		t.Errorf("keyed id %q carries the raw id", task)
	}
	if a.TaskID(nil) != "" || a.RequestID([]byte{}) != "" || a.EntryID(nil) != "" {
		t.Error("an absent id must stay absent")
	}
	if IsKeyedID(a.Pseudonym("x"), TaskIDPrefix) || IsKeyedID("t_xyz", TaskIDPrefix) {
		t.Error("IsKeyedID accepts what is not a keyed task id")
	}
}
