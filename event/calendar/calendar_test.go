package calendar

import (
	"testing"
	"time"
)

// day0 is a Monday.
var day0 = DateOf(2025, time.March, 3)

// TestWeekStartOf: the Monday of the ISO week of an instant, in a zone.
func TestWeekStartOf(t *testing.T) {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	tests := []struct {
		name string
		t    time.Time
		loc  *time.Location
		want string
	}{
		{"wednesday", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), time.UTC, "2026-11-23"},
		{"monday midnight", time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), time.UTC, "2026-11-23"},
		{"sunday late", time.Date(2026, 11, 29, 23, 59, 0, 0, time.UTC), time.UTC, "2026-11-23"},
		{"sunday UTC is monday in Tokyo", time.Date(2026, 11, 29, 20, 0, 0, 0, time.UTC), tokyo, "2026-11-30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := time.Unix(int64(WeekStartOf(tc.t, tc.loc))*86400, 0).UTC().Format("2006-01-02")
			if got != tc.want {
				t.Errorf("WeekStartOf = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestWeekStart: the Monday of a day's ISO week, before the epoch too.
func TestWeekStart(t *testing.T) {
	for _, tc := range []struct {
		name string
		day  int32
		want int32
	}{
		{"monday", day0, day0},
		{"friday", day0 + 4, day0},
		{"sunday", day0 + 6, day0},
		{"next monday", day0 + 7, day0 + 7},
		{"epoch thursday", 0, -3},
		{"before epoch", -4, -10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WeekStart(tc.day); got != tc.want {
				t.Errorf("WeekStart(%d) = %d, want %d", tc.day, got, tc.want)
			}
		})
	}
}
