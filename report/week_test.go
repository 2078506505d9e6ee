package report

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shoal-analytics/shoal/event/calendar"
)

func TestParseWeek(t *testing.T) {
	tests := []struct {
		in      string
		want    Week
		monday  string
		wantErr string
	}{
		{in: "2026-W47", want: Week{2026, 47}, monday: "2026-11-16"},
		{in: "2026w01", want: Week{2026, 1}, monday: "2025-12-29"},
		{in: "2020-W53", want: Week{2020, 53}, monday: "2020-12-28"},
		{in: "2027-W01", want: Week{2027, 1}, monday: "2027-01-04"},
		{in: "2026-W53", want: Week{2026, 53}, monday: "2026-12-28"},
		{in: "2027-W53", wantErr: "2027 has ISO weeks 1 to 52"},
		{in: "2026-W00", wantErr: "2026 has ISO weeks 1 to 53"},
		{in: "2026-47", wantErr: "write an ISO week as YEAR-Wnn, e.g. 2026-W47"},
		{in: "last week", wantErr: "e.g. 2026-W47"},
		{in: "", wantErr: "e.g. 2026-W47"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseWeek(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrWeek) {
					t.Fatalf("ParseWeek(%q) = %v, %v; want an ErrWeek saying %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseWeek(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if m := calendar.DayTime(got.Monday()).Format(time.DateOnly); m != tc.monday {
				t.Errorf("Monday of %v = %s, want %s", got, m, tc.monday)
			}
			if WeekOfDay(got.Monday()) != got || WeekOfDay(got.Monday()+6) != got || WeekOfDay(got.Monday()+7) != got.Add(1) {
				t.Errorf("WeekOfDay does not invert Monday for %v", got)
			}
		})
	}
}

// TestWeekInZone: the week of an instant is decided in the org's zone.
func TestWeekInZone(t *testing.T) {
	// Sunday 22 November 2026, 23:30 UTC is already Monday in Berlin.
	at := time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if w := WeekOf(at, time.UTC); w != (Week{2026, 47}) {
		t.Errorf("UTC week = %v, want 2026-W47", w)
	}
	if w := WeekOf(at, berlin); w != (Week{2026, 48}) {
		t.Errorf("Berlin week = %v, want 2026-W48", w)
	}
	if s := (Week{2026, 48}).Start(berlin); !s.Equal(time.Date(2026, 11, 22, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("start of 2026-W48 in Berlin = %v", s)
	}
}

// TestBadData: Render refuses data it cannot report on truthfully.
func TestBadData(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*Data)
		want   string
	}{
		"k below the floor": {func(d *Data) { d.K = 2 }, "k = 2 is below the floor of 3"},
		"unknown zone":      {func(d *Data) { d.TimeZone = "Mars/Olympus" }, `time zone "Mars/Olympus"`},
		"unknown format":    {nil, `format "pdf": use html, md or csv`},
	} {
		t.Run(name, func(t *testing.T) {
			d := demoData(t, nil)
			f := HTML
			if tc.mutate != nil {
				tc.mutate(&d)
			} else {
				f = "pdf"
			}
			var buf strings.Builder
			err := Render(&buf, d, f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render = %v, want an error saying %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("Render wrote %d bytes before failing", buf.Len())
			}
		})
	}
}
