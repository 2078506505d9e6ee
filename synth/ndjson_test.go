package synth

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNDJSONRoundTrip(t *testing.T) {
	_, msgs := defaultStream()
	var buf bytes.Buffer
	if err := WriteNDJSON(&buf, msgs); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(buf.Bytes(), []byte("\n")); n != len(msgs) {
		t.Fatalf("%d lines for %d messages", n, len(msgs))
	}
	got, err := ReadNDJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d messages, wrote %d", len(got), len(msgs))
	}
	for i := range msgs {
		if !bytes.Equal(got[i].Value, msgs[i].Value) || !bytes.Equal(got[i].Key, msgs[i].Key) || got[i].Bad != "" {
			t.Fatalf("message %d (%s): read key %q value %.200s, wrote key %q value %.200s",
				i, msgs[i].Bad, got[i].Key, got[i].Value, msgs[i].Key, msgs[i].Value)
		}
	}
}

func TestReadNDJSONTolerance(t *testing.T) {
	long := `{"data":{"team":"t"},"pad":"` + strings.Repeat("x", 200_000) + `"}`
	tests := []struct {
		name     string
		in       string
		wantKeys []string // "-" for a nil key
	}{
		{"empty input", "", nil},
		{"blank lines skipped", "\n\n  \n", nil},
		{"no final newline", `{"data":{"team":"a"}}`, []string{"a"}},
		{"CRLF line endings", "{\"data\":{\"team\":\"a\"}}\r\n{\"data\":{\"team\":\"b\"}}\r\n", []string{"a", "b"}},
		{"malformed line kept without key", "{\"data\":{\"team\":\"a\"\n{\"data\":{\"team\":\"b\"}}\n", []string{"-", "b"}},
		{"no team, team not a string, data not an object", "{\"data\":{}}\n{\"data\":{\"team\":3}}\n{\"data\":\"x\"}\n[1]\n", []string{"-", "-", "-", "-"}},
		{"a line longer than any buffer", long + "\n", []string{"t"}},
		{"repeated team: the last wins", `{"data":{"team":"a","team":"b"}}`, []string{"b"}},
		{"nested data is not the key", `{"x":{"data":{"team":"y"}}}`, []string{"-"}},
		{"top-level data after a nested one", `{"x":{"data":{"team":"y"}},"data":{"team":"z"}}`, []string{"z"}},
		{"escaped team", `{"data":{"team":"a\"b"}}`, []string{`a"b`}},
		{"spaced", `{ "data" : { "team" : "s" } }`, []string{"s"}},
		{"empty team", `{"data":{"team":""}}`, []string{""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadNDJSON(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.wantKeys) {
				t.Fatalf("%d messages, want %d", len(got), len(tc.wantKeys))
			}
			for i, m := range got {
				want := tc.wantKeys[i]
				if want == "-" && m.Key != nil || want != "-" && string(m.Key) != want {
					t.Errorf("message %d: key %q, want %s", i, m.Key, want)
				}
				if bytes.ContainsAny(m.Value, "\r\n") {
					t.Errorf("message %d keeps its line ending", i)
				}
			}
		})
	}
}

func TestWriteNDJSONRefusesNewlines(t *testing.T) {
	err := WriteNDJSON(&bytes.Buffer{}, []Message{{Value: []byte("{\n}")}})
	if err == nil {
		t.Error("a value with a newline was written")
	}
}

// FuzzReadNDJSON checks that any input reads without error into lines
// without line endings, and that the fast key path agrees with
// encoding/json. Run with: go test -fuzz FuzzReadNDJSON ./synth/
func FuzzReadNDJSON(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"x","data":{"team":"a","person":"p"}}` + "\n"))
	f.Add([]byte(`{"x":{"data":{"team":"y"}},"data":{"team":"z"}}`))
	f.Add([]byte(`{"data":{"team":"a\"b"}}` + "\r\n\n" + `{"data":{"team":"a","team":"b"}}`))
	f.Add([]byte(`{"data":{"team":"a"`))
	f.Fuzz(func(t *testing.T, in []byte) {
		msgs, err := ReadNDJSON(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if len(bytes.TrimSpace(m.Value)) == 0 || bytes.IndexByte(m.Value, '\n') >= 0 {
				t.Fatalf("value %q", m.Value)
			}
			var probe struct {
				Data struct {
					Team *string `json:"team"`
				} `json:"data"`
			}
			var want []byte
			if json.Valid(m.Value) && json.Unmarshal(m.Value, &probe) == nil && probe.Data.Team != nil {
				want = []byte(*probe.Data.Team)
			}
			if (want == nil) != (m.Key == nil) || !bytes.Equal(want, m.Key) {
				t.Fatalf("key %q, encoding/json says %q, for %q", m.Key, want, m.Value)
			}
		}
	})
}
