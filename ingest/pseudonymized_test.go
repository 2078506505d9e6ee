package ingest

import (
	"strings"
	"testing"

	"github.com/shoal-analytics/shoal/event"
)

// TestPseudonymizedAtTheEdge: an event whose person the intake already
// pseudonymized (shoalpseudonymized: true) keeps that pseudonym, which is
// the one the same person gets when a producer sends their id raw; the
// mark is honoured only for a value of the pseudonym's shape.
func TestPseudonymizedAtTheEdge(t *testing.T) {
	d := dtDecoder(t)
	p := dtPseudonymizer(t)
	raw := "alice.smith@acme.example"
	edge := p.Pseudonym(raw)

	var viaRaw, viaEdge event.Event
	if r := d.Decode(dtMsg(event.TaskStarted, `{"team":"t","task":"x","person":"`+raw+`"}`), &viaRaw); r != nil {
		t.Fatal(r)
	}
	if r := d.Decode(dtMsg(event.TaskStarted, `{"team":"t","task":"x","person":"`+strings.ToUpper(edge[2:])+`"}`, `"shoalpseudonymized":true`), &viaEdge); r == nil {
		t.Fatal("a marked person without the p_ prefix was accepted")
	}
	if r := d.Decode(dtMsg(event.TaskStarted, `{"team":"t","task":"x","person":"`+edge+`"}`, `"shoalpseudonymized":true`), &viaEdge); r != nil {
		t.Fatal(r)
	}
	if viaEdge.Person != viaRaw.Person || viaEdge.Person != edge {
		t.Errorf("raw → %s, pseudonymized at the edge → %s; want both %s", viaRaw.Person, viaEdge.Person, edge)
	}

	// Without the mark a pseudonym-shaped value is a raw id like any other.
	var unmarked event.Event
	if r := d.Decode(dtMsg(event.TaskStarted, `{"team":"t","task":"x","person":"`+edge+`"}`), &unmarked); r != nil {
		t.Fatal(r)
	}
	if unmarked.Person == edge {
		t.Error("an unmarked pseudonym-shaped person was kept as it is")
	}

	for name, c := range map[string]struct{ data, attr, want string }{
		"marked raw id":   {`{"team":"t","task":"x","person":"` + raw + `"}`, `"shoalpseudonymized":true`, "is not a pseudonym"},
		"marked false":    {`{"team":"t","task":"x","person":"` + edge + `"}`, `"shoalpseudonymized":false`, "must be true"},
		"marked string":   {`{"team":"t","task":"x","person":"` + edge + `"}`, `"shoalpseudonymized":"true"`, "must be true"},
		"almost a pseudo": {`{"team":"t","task":"x","person":"` + edge + `0"}`, `"shoalpseudonymized":true`, "is not a pseudonym"},
		"not hex":         {`{"team":"t","task":"x","person":"p_zzzzzzzzzzzzzzzzzzzzzzzz"}`, `"shoalpseudonymized":true`, "is not a pseudonym"},
	} {
		t.Run(name, func(t *testing.T) {
			var ev event.Event
			r := d.Decode(dtMsg(event.TaskStarted, c.data, c.attr), &ev)
			if r == nil || r.Reason != ReasonBadValue || !strings.Contains(r.Detail, c.want) {
				t.Fatalf("got %+v, want bad_value with %q", r, c.want)
			}
			if strings.Contains(r.Detail, raw) {
				t.Errorf("the detail shows the value: %s", r.Detail)
			}
		})
	}
}
