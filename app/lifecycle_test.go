package app

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/app/apptest"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
)

// TestRetentionWithClock: with the clock under the test's control, the
// rows of released weeks stay until --retain-events after their release
// and go the moment it has passed; the releases, and so every output,
// stay as they were; /metrics shows the rows deleted and the oldest event.
func TestRetentionWithClock(t *testing.T) {
	ctx := context.Background()
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	var now atomic.Int64
	now.Store(apptest.OrgNow.UnixNano())
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{}, func(c *Config) {
		c.Now = func() time.Time { return time.Unix(0, now.Load()).UTC() }
	})
	waitCaughtUp(t, p)
	weeks := release(t, p)
	if len(weeks) < 2 {
		t.Fatalf("released %d weeks, want at least 2", len(weeks))
	}
	released := func() []privacy.Published {
		w, _, err := p.store.Released(ctx, weeks[0], weeks[len(weeks)-1], true)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	before := released()
	events, err := p.store.EventCount(ctx)
	if err != nil {
		t.Fatal(err)
	}

	now.Store(apptest.OrgNow.Add(time.Duration(DefaultRetainEvents) - time.Hour).UnixNano())
	if res, err := p.ApplyRetention(ctx); err != nil || res.Total() != 0 {
		t.Fatalf("an hour before --retain-events has passed: %+v, %v; want nothing deleted", res, err)
	}
	now.Store(apptest.OrgNow.Add(time.Duration(DefaultRetainEvents) + time.Hour).UnixNano())
	res, err := p.ApplyRetention(ctx)
	if err != nil {
		t.Fatal(err)
	}
	horizon := weeks[len(weeks)-1] + 7
	if res.To != horizon || res.Deleted["events"] == 0 || res.Deleted["team_day_people"] == 0 {
		t.Fatalf("after --retain-events: %+v, want the rows before %s deleted", res, calendar.DayTime(horizon).Format(time.DateOnly))
	}
	oldest, ok, err := p.store.OldestEventDay(ctx)
	if err != nil || ok && oldest < horizon {
		t.Fatalf("oldest event %s (%v, %v), want none before %s", calendar.DayTime(oldest).Format(time.DateOnly), ok, err, calendar.DayTime(horizon).Format(time.DateOnly))
	}
	if left, _ := p.store.EventCount(ctx); left != events-res.Deleted["events"] {
		t.Errorf("%d events left of %d, %d deleted", left, events, res.Deleted["events"])
	}
	if after := released(); !reflect.DeepEqual(after, before) {
		t.Error("retention changed released cells")
	}
	metrics := apptest.HTTPGet(t, p.URL()+"/metrics")
	for _, want := range []string{`shoal_retention_rows_deleted_total{table="events"}`, "shoal_store_oldest_event_timestamp_seconds", "shoal_retention_horizon_timestamp_seconds 1.7"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s:\n%s", want, grepLines(metrics, "retention"))
		}
	}
	if strings.Contains(metrics, `shoal_retention_rows_deleted_total{table="events"} 0`) {
		t.Error("/metrics counts no deleted events")
	}
}

// TestEraseEndpoint: POST /-/erase takes ids as the sources send them (text
// or JSON), says what it found, and refuses an empty or malformed request.
func TestEraseEndpoint(t *testing.T) {
	org, msgs := apptest.SmallOrg()
	addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
	apptest.Publish(t, addr, "shoal.events", msgs)
	p, _ := testPipeline(t, addr, t.TempDir(), org, &apptest.SyncBuffer{})
	waitCaughtUp(t, p)
	release(t, p)
	raw := org.RawPeople()[0]
	code, body := apptest.HTTPPost(t, p.URL()+"/-/erase", "text/plain", "# one id a line\n\n"+raw+"\nnobody@example.com\n")
	if code != 200 || !strings.Contains(body, `"events":`) || !strings.Contains(body, `"compacted":true`) {
		t.Fatalf("erase: %d %s", code, body)
	}
	if strings.Contains(body, `"person":"`+raw+`","events":0`) || !strings.Contains(body, `"person":"nobody@example.com","events":0,"person_rows":0`) {
		t.Errorf("erase answer: %s", body)
	}
	code, body = apptest.HTTPPost(t, p.URL()+"/-/erase", "application/json", `{"persons": ["`+raw+`"]}`)
	if code != 200 || !strings.Contains(body, `"events":0,"person_rows":0`) {
		t.Errorf("a second erasure of the same id: %d %s, want nothing found", code, body)
	}
	for _, bad := range []struct{ ct, body string }{{"text/plain", "\n# nobody\n"}, {"application/json", `{"people": ["x"]}`}} {
		if code, body := apptest.HTTPPost(t, p.URL()+"/-/erase", bad.ct, bad.body); code != 400 {
			t.Errorf("erase %q: %d %s, want 400", bad.body, code, body)
		}
	}
	if entries, err := p.store.Erasures(context.Background()); err != nil || len(entries) != 2 || entries[0].Found != 1 || entries[1].Found != 0 {
		t.Errorf("erasure entries %+v, %v", entries, err)
	}
}
