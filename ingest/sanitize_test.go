package ingest

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/event"
)

func TestSanitizeFixtures(t *testing.T) {
	d := dtDecoder(t)
	invalid := dtFixtures(t, "invalid")
	for _, name := range dtSortedKeys(invalid) {
		b := invalid[name]
		t.Run(name, func(t *testing.T) {
			var ev event.Event
			rej := d.Decode(b, &ev)
			if rej == nil {
				t.Fatal("Decode accepted an invalid fixture")
			}
			out := d.Sanitize(b, rej)
			for _, raw := range []string{dtRawEmail, dtRawUserID} {
				if bytes.Contains(bytes.ToLower(out), bytes.ToLower([]byte(raw))) {
					t.Errorf("sanitized body contains raw identifier %q:\n%s", raw, out)
				}
			}
			if len(out) > MaxSanitizedBytes {
				t.Errorf("sanitized body is %d bytes, more than %d", len(out), MaxSanitizedBytes)
			}
			if json.Valid(b) && !json.Valid(out) {
				t.Errorf("input was JSON but the sanitized body is not:\n%s", out)
			}
			if len(b) > 0 && len(out) == 0 {
				t.Error("sanitized body is empty")
			}
		})
	}
}

func TestSanitizeJSON(t *testing.T) {
	d := dtDecoder(t)
	ps := d.p.Pseudonym
	tests := []struct {
		name, in, want string
	}{
		{"person field", `{"data":{"person":"alice.smith@acme.example","team":"t"}}`,
			`{"data":{"person":"` + ps(dtRawEmail) + `","team":"t"}}`},
		{"person-like keys any case and depth", `{"a":[{"Assignee":"U12345"},{"deep":{"USER_ID":"U12345","Name":"Alice Smith"}}]}`,
			`{"a":[{"Assignee":"` + ps(dtRawUserID) + `"},{"deep":{"USER_ID":"` + ps(dtRawUserID) + `","Name":"` + ps("Alice Smith") + `"}}]}`},
		{"compound person-like keys", `{"assignee_email":"x","userName":"y","created_by":"z","reviewers":"w"}`,
			`{"assignee_email":"` + ps("x") + `","userName":"` + ps("y") + `","created_by":"` + ps("z") + `","reviewers":"` + ps("w") + `"}`},
		{"non-string person values are dropped", `{"user":{"id":"U12345","email":"a@b.example"},"person":12345,"login":null,"team":"t","owner":["U12345"]}`,
			`{"team":"t"}`},
		{"first key dropped", `{"person":1,"team":"t"}`, `{"team":"t"}`},
		{"surveillance values removed", `{"data":{"active_window":"Slack","screenshot":{"png":"..."},"geo":[1,2]},"ip":"203.0.113.7"}`,
			`{"data":{"active_window":"[removed: surveillance]","screenshot":"[removed: surveillance]","geo":"[removed: surveillance]"},"ip":"[removed: surveillance]"}`},
		{"surveillance outranks person", `{"user_location":"Amsterdam"}`, `{"user_location":"[removed: surveillance]"}`},
		{"emails inside other strings", `{"note":"ping alice.smith@acme.example, or Bob <bob@x.example>."}`,
			`{"note":"ping ` + ps(dtRawEmail) + `, or Bob <` + ps("bob@x.example") + `>."}`},
		{"escaped email", `{"note":"alice.smith\u0040acme.example"}`, `{"note":"` + ps(dtRawEmail) + `"}`},
		{"email as key", `{"alice.smith@acme.example":3}`, `{"` + ps(dtRawEmail) + `":3}`},
		{"chained at signs are one run", `{"note":"a@b.example@c.example"}`, `{"note":"` + ps("a@b.example@c.example") + `"}`},
		{"lone at sign and handles", `{"note":"meet @ noon, cc @alice"}`, `{"note":"meet @ noon, cc ` + ps("@alice") + `"}`},
		{"numbers and literals kept verbatim", `{"n":-1.5e3,"t":true,"f":false,"z":null,"e":[],"o":{}}`, `{"n":-1.5e3,"t":true,"f":false,"z":null,"e":[],"o":{}}`},
		{"duplicate keys kept", `{"id":"1","id":"2","person":"U12345","person":"U12345"}`,
			`{"id":"1","id":"2","person":"` + ps(dtRawUserID) + `","person":"` + ps(dtRawUserID) + `"}`},
		{"whitespace compacted, escapes normalized", " {\n \"a\" : \"x\\/y\\u00e9\\n\" } ", `{"a":"x/yé\n"}`},
		{"top-level array", `[{"person":"U12345"},"bob@x.example"]`, `[{"person":"` + ps(dtRawUserID) + `"},"` + ps("bob@x.example") + `"]`},
		{"top-level string", `"bob@x.example"`, `"` + ps("bob@x.example") + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(d.Sanitize([]byte(tt.in), &Rejection{Reason: ReasonUnknownField}))
			if got != tt.want {
				t.Errorf("Sanitize(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestSanitizeSurveillanceTypeDropsData(t *testing.T) {
	d := dtDecoder(t)
	in := dtMsg("work.screenshot.taken", `{"team":"t","person":"U12345","image":"iVBORw0KGgo="}`)
	var ev event.Event
	rej := d.Decode(in, &ev)
	if rej == nil || rej.Reason != ReasonSurveillanceType {
		t.Fatalf("Decode = %v, want surveillance_type", rej)
	}
	got := string(d.Sanitize(in, rej))
	want := `{"specversion":"1.0","id":"evt-1","source":"jira/acme","type":"work.screenshot.taken","time":"2024-05-01T09:30:00Z","data":"[removed: surveillance]"}`
	if got != want {
		t.Errorf("Sanitize:\n got %s\nwant %s", got, want)
	}
	// Other reasons keep data (sanitized), and a nested "data" key is not the envelope's.
	got = string(d.Sanitize([]byte(`{"data":{"data":1,"image":"x"}}`), &Rejection{Reason: ReasonUnknownField}))
	if want := `{"data":{"data":1,"image":"x"}}`; got != want {
		t.Errorf("Sanitize:\n got %s\nwant %s", got, want)
	}
	got = string(d.Sanitize([]byte(`{"x":{"data":{"image":"x"}},"data":{}}`), rej))
	if want := `{"x":{"data":{"image":"x"}},"data":"[removed: surveillance]"}`; got != want {
		t.Errorf("Sanitize:\n got %s\nwant %s", got, want)
	}
}

func TestSanitizeRaw(t *testing.T) {
	d := dtDecoder(t)
	ps := d.p.Pseudonym
	tests := []struct {
		name, in, want string
	}{
		{"message key is kept", `team-orca`, `team-orca`},
		{"bare email", `alice.smith@acme.example`, ps(dtRawEmail)},
		{"person value, trailing comma", `{"person": "U12345", "team":"t",}`, `{"person": "` + ps(dtRawUserID) + `", "team":"t",}`},
		{"person-like key, unterminated", `{"data":{"Reporter" :"U12345`, `{"data":{"Reporter" :"` + ps(dtRawUserID) + `"`},
		{"non-string person value", `{"user_id": 12345, "x": 1`, `{"user_id": "[removed: person]", "x": 1`},
		{"object person value", `{"author": {"id": "U12345"}, "x": 1`, `{"author": "[removed: person]", "x": 1`},
		{"unterminated object person value", `{"author": {"id": "U12345"`, `{"author": "[removed: person]"`},
		{"surveillance value", `{"screen_time": 7200, "url": "https://x"`, `{"screen_time": "[removed: surveillance]", "url": "[removed: surveillance]"`},
		{"single quotes: emails still scrubbed", `{'person':'alice.smith@acme.example'}`, `{'person':'` + ps(dtRawEmail) + `'}`},
		{"email in a string is re-encoded", `{"note":"to: alice.smith@acme.example\u0021" x`, `{"note":"to: ` + ps(dtRawEmail) + `!" x`},
		{"string without email kept verbatim, bad escape and all", `{"note":"a\qb" x`, `{"note":"a\qb" x`},
		{"escaped email in a string", `{"note":"alice.smith\u0040acme.example" x`, `{"note":"` + ps(dtRawEmail) + `" x`},
		{"trailing dots stay outside the pseudonym", `mail alice.smith@acme.example.`, `mail ` + ps(dtRawEmail) + `.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(d.Sanitize([]byte(tt.in), &Rejection{Reason: ReasonMalformedJSON}))
			if got != tt.want {
				t.Errorf("Sanitize(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestSanitizeBounds(t *testing.T) {
	d := dtDecoder(t)
	if got := d.Sanitize(nil, nil); got != nil {
		t.Errorf("Sanitize(nil) = %q, want nil", got)
	}
	if got := d.Sanitize([]byte{}, nil); len(got) != 0 {
		t.Errorf("Sanitize(empty) = %q, want empty", got)
	}
	// Unparsable and large: truncated at a UTF-8 boundary after scrubbing,
	// so a cut never leaves part of an email behind.
	big := []byte(`{"note":"` + strings.Repeat("é", MaxSanitizedBytes) + ` ` + dtRawEmail)
	out := d.Sanitize(big, &Rejection{Reason: ReasonTooLarge})
	if len(out) > MaxSanitizedBytes || len(out) < MaxSanitizedBytes-1 {
		t.Errorf("len = %d, want just under %d", len(out), MaxSanitizedBytes)
	}
	if !bytes.HasSuffix(out, []byte("é")) {
		t.Errorf("truncation split a UTF-8 sequence: ends %q", out[len(out)-4:])
	}
	// An email straddling the cut.
	big = []byte(`{"note":"` + strings.Repeat("x ", MaxSanitizedBytes/2-8) + dtRawEmail + `"`)
	out = d.Sanitize(big, &Rejection{Reason: ReasonTooLarge})
	if bytes.Contains(out, []byte("alice")) {
		t.Errorf("a truncated email survived: ...%s", out[len(out)-40:])
	}
}
