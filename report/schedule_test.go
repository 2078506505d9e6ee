package report

import (
	"strings"
	"testing"
	"time"
)

// TestReportSchedule: the next report time, and bad schedules refused.
func TestReportSchedule(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	s, err := DefaultSchedule().parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ now, want time.Time }{
		{time.Date(2026, 11, 23, 0, 0, 0, 0, berlin), time.Date(2026, 11, 23, 6, 0, 0, 0, berlin)},  // Monday before 06:00
		{time.Date(2026, 11, 23, 6, 0, 0, 0, berlin), time.Date(2026, 11, 30, 6, 0, 0, 0, berlin)},  // exactly at: the next week
		{time.Date(2026, 11, 25, 12, 0, 0, 0, berlin), time.Date(2026, 11, 30, 6, 0, 0, 0, berlin)}, // Wednesday
		{time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 30, 6, 0, 0, 0, berlin)},   // across the DST change
	} {
		if got := s.next(tc.now, berlin); !got.Equal(tc.want) {
			t.Errorf("next after %s = %s, want %s", tc.now, got, tc.want)
		}
	}
	if w := WeekOf(time.Date(2026, 11, 23, 6, 0, 0, 0, berlin), berlin).Add(-1); w.String() != "2026-W47" {
		t.Errorf("the report written on Monday 2026-11-23 is for %s, want 2026-W47", w)
	}
	bad := Schedule{ReportWeekday: "Moonday", ReportTime: "6am", ReportTimezone: "Mars/Olympus"}
	err = bad.Validate()
	for _, want := range []string{`report-weekday "Moonday"`, `report-time "6am": use HH:MM`, `report-timezone "Mars/Olympus" is not an IANA time zone`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate(%+v) = %v, want it to say %q", bad, err, want)
		}
	}
}
