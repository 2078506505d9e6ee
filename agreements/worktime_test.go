package agreements

import (
	"math/rand/v2"
	"testing"
	"time"
)

func agreement(t testing.TB, zone string, wd [7]bool) Agreement {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return Agreement{Location: loc, TimeZone: zone, WorkingDays: wd}
}

var (
	sunToThu = days(time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday)
	everyDay = days(0, 1, 2, 3, 4, 5, 6)
)

func TestWorkingSeconds(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	jerusalem := mustZone(t, "Asia/Jerusalem")
	for _, tc := range []struct {
		name     string
		zone     string
		days     [7]bool
		from, to time.Time
		want     time.Duration
	}{
		// 2026-03-06 is a Friday.
		{"Fri 17:00 to Mon 09:00: rest of Friday and Monday morning", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 6, 17, 0), at(berlin, 2026, 3, 9, 9, 0), 7*time.Hour + 9*time.Hour},
		{"Sat 00:00 to Mon 09:00: only Monday counts", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 7, 0, 0), at(berlin, 2026, 3, 9, 9, 0), 9 * time.Hour},
		{"Fri 17:00 to Mon 09:00 given in UTC", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 6, 17, 0).UTC(), at(berlin, 2026, 3, 9, 9, 0).UTC(), 16 * time.Hour},
		{"inside one working day", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 10, 10, 0), at(berlin, 2026, 3, 10, 12, 30), 150 * time.Minute},
		{"weekend only", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 7, 10, 0), at(berlin, 2026, 3, 8, 20, 0), 0},
		{"a whole week", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 2, 0, 0), at(berlin, 2026, 3, 9, 0, 0), 5 * 24 * time.Hour},
		{"four weeks", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 1, 5, 0, 0), at(berlin, 2026, 2, 2, 0, 0), 20 * 24 * time.Hour},
		{"a year across both DST changes, every day", "Europe/Berlin", everyDay,
			at(berlin, 2026, 1, 1, 0, 0), at(berlin, 2027, 1, 1, 0, 0), 365 * 24 * time.Hour},
		{"empty range", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 10, 10, 0), at(berlin, 2026, 3, 10, 10, 0), 0},
		{"reversed range", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 10, 12, 0), at(berlin, 2026, 3, 10, 10, 0), 0},
		// Europe/Berlin springs forward on Sunday 2026-03-29 (02:00 → 03:00).
		{"spring DST weekend, every day", "Europe/Berlin", everyDay,
			at(berlin, 2026, 3, 28, 0, 0), at(berlin, 2026, 3, 30, 0, 0), 47 * time.Hour},
		{"spring DST Sunday is 23h for a Sun-Thu team", "Europe/Berlin", sunToThu,
			at(berlin, 2026, 3, 29, 0, 0), at(berlin, 2026, 3, 30, 0, 0), 23 * time.Hour},
		{"spring DST, Fri to Tue, Sun-Thu team", "Europe/Berlin", sunToThu,
			at(berlin, 2026, 3, 27, 0, 0), at(berlin, 2026, 3, 31, 0, 0), 47 * time.Hour},
		{"spring DST, Fri noon to Mon noon, Mon-Fri team", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 3, 27, 12, 0), at(berlin, 2026, 3, 30, 12, 0), 24 * time.Hour},
		{"spring DST Sunday from 01:00 to 04:00 is 2h", "Europe/Berlin", everyDay,
			at(berlin, 2026, 3, 29, 1, 0), at(berlin, 2026, 3, 29, 4, 0), 2 * time.Hour},
		// Europe/Berlin falls back on Sunday 2026-10-25 (03:00 → 02:00).
		{"autumn DST Sunday is 25h for a Sun-Thu team", "Europe/Berlin", sunToThu,
			at(berlin, 2026, 10, 25, 0, 0), at(berlin, 2026, 10, 26, 0, 0), 25 * time.Hour},
		{"autumn DST Sunday is 0h for a Mon-Fri team", "Europe/Berlin", mondayToFriday,
			at(berlin, 2026, 10, 24, 0, 0), at(berlin, 2026, 10, 26, 0, 0), 0},
		// A Sun-Thu team: Friday and Saturday are its weekend.
		{"Sun-Thu team, Fri 17:00 to Mon 09:00", "Asia/Jerusalem", sunToThu,
			at(jerusalem, 2026, 3, 6, 17, 0), at(jerusalem, 2026, 3, 9, 9, 0), 24*time.Hour + 9*time.Hour},
		{"Sun-Thu team, Thu 17:00 to Sun 09:00", "Asia/Jerusalem", sunToThu,
			at(jerusalem, 2026, 3, 5, 17, 0), at(jerusalem, 2026, 3, 8, 9, 0), 7*time.Hour + 9*time.Hour},
		{"Sun-Thu team, a whole week", "Asia/Jerusalem", sunToThu,
			at(jerusalem, 2026, 1, 4, 0, 0), at(jerusalem, 2026, 1, 11, 0, 0), 5 * 24 * time.Hour},
		{"before 1970", "UTC", mondayToFriday,
			time.Date(1969, 12, 26, 12, 0, 0, 0, time.UTC), time.Date(1970, 1, 2, 12, 0, 0, 0, time.UTC), 5 * 24 * time.Hour},
		{"no working days", "UTC", [7]bool{},
			time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := agreement(t, tc.zone, tc.days)
			if got := a.WorkingSeconds(tc.from, tc.to); got != tc.want.Seconds() {
				t.Errorf("WorkingSeconds(%v, %v) = %vs (%v), want %v", tc.from, tc.to, got, time.Duration(got*1e9), tc.want)
			}
		})
	}
}

func TestWorkingSecondsFractions(t *testing.T) {
	a := agreement(t, "Europe/Berlin", mondayToFriday)
	berlin := a.Location
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     float64
	}{
		{"sub-second inside a day", time.Date(2026, 3, 10, 10, 0, 0, 250_000_000, berlin), time.Date(2026, 3, 10, 10, 0, 1, 0, berlin), 0.75},
		{"from on a weekend with nanos", time.Date(2026, 3, 8, 23, 59, 59, 500_000_000, berlin), time.Date(2026, 3, 9, 0, 0, 0, 250_000_000, berlin), 0.25},
		{"to on a weekend with nanos", time.Date(2026, 3, 6, 23, 59, 59, 500_000_000, berlin), time.Date(2026, 3, 7, 0, 0, 0, 250_000_000, berlin), 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := a.WorkingSeconds(tc.from, tc.to); got != tc.want {
				t.Errorf("WorkingSeconds = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestWorkingSecondsMatchesBruteForce checks the calendar arithmetic against
// a walk in 15-minute steps (every zone below changes offset on the
// 15-minute grid, so each step lies inside one local day) over random ranges
// in zones with unusual transitions: at midnight (Santiago, Havana, Asuncion),
// half-hour DST (Lord Howe), negative DST (Dublin), 45-minute offsets
// (Kathmandu, Chatham), a skipped day (Apia, 2011-12-30) and the Ramadan
// switches (Casablanca).
func TestWorkingSecondsMatchesBruteForce(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "America/Santiago", "America/Havana", "America/Asuncion",
		"Australia/Lord_Howe", "Europe/Dublin", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia", "Africa/Casablanca",
		"Asia/Tehran", "Asia/Jerusalem", "UTC"}
	const step = 15 * time.Minute
	r := rand.New(rand.NewPCG(1, 2))
	brute := func(a Agreement, from, to time.Time) float64 {
		var s float64
		for t := from; t.Before(to); t = t.Add(step) {
			if a.WorkingDays[t.In(a.Location).Weekday()] {
				s += step.Seconds()
			}
		}
		return s
	}
	lo := time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 900
	hi := time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 900
	n := 3000
	if testing.Short() {
		n = 300
	}
	for _, zone := range zones {
		t.Run(zone, func(t *testing.T) {
			for range n {
				var wd [7]bool
				for d := range wd {
					wd[d] = r.IntN(2) == 0
				}
				a := agreement(t, zone, wd)
				from := time.Unix((lo+r.Int64N(hi-lo))*900, 0)
				to := from.Add(time.Duration(r.IntN(20*96)) * step)
				if got, want := a.WorkingSeconds(from, to), brute(a, from, to); got != want {
					t.Fatalf("days %v, %v to %v: WorkingSeconds = %v, brute force = %v", wd, from.In(a.Location), to.In(a.Location), got, want)
				}
			}
		})
	}
	t.Run("Apia skips Friday 2011-12-30", func(t *testing.T) {
		apia := mustZone(t, "Pacific/Apia")
		from, to := time.Date(2011, 12, 29, 12, 0, 0, 0, apia), time.Date(2011, 12, 31, 12, 0, 0, 0, apia)
		if got := to.Sub(from); got != 24*time.Hour {
			t.Fatalf("tzdata: %v between, want 24h", got)
		}
		thuOnly := agreement(t, "Pacific/Apia", days(time.Thursday))
		friOnly := agreement(t, "Pacific/Apia", days(time.Friday))
		satOnly := agreement(t, "Pacific/Apia", days(time.Saturday))
		for _, tc := range []struct {
			a    Agreement
			want float64
		}{{thuOnly, 12 * 3600}, {friOnly, 0}, {satOnly, 12 * 3600}} {
			if got := tc.a.WorkingSeconds(from, to); got != tc.want {
				t.Errorf("days %v: %v, want %v", tc.a.WorkingDays, got, tc.want)
			}
		}
	})
}

func TestIsWorkingDay(t *testing.T) {
	o := mustParse(t, "units:\n  - id: u\n    teams:\n      - id: weekdays\n      - id: sun-thu\n        working_days: Sun-Thu\n")
	day := func(y int, m time.Month, d int) int32 {
		return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
	}
	for _, tc := range []struct {
		name string
		team string
		day  int32
		want bool
	}{
		{"Thursday 1970-01-01", "weekdays", 0, true},
		{"Wednesday 1969-12-31", "weekdays", -1, true},
		{"Sunday 1969-12-28", "weekdays", -4, false},
		{"Friday 2026-03-06", "weekdays", day(2026, 3, 6), true},
		{"Saturday 2026-03-07", "weekdays", day(2026, 3, 7), false},
		{"Sunday 2026-03-08", "weekdays", day(2026, 3, 8), false},
		{"Sun-Thu team on Friday", "sun-thu", day(2026, 3, 6), false},
		{"Sun-Thu team on Sunday", "sun-thu", day(2026, 3, 8), true},
		{"unlisted team gets Mon-Fri", "ghosts", day(2026, 3, 9), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := o.IsWorkingDay(tc.team, tc.day); got != tc.want {
				t.Errorf("IsWorkingDay(%q, %d) = %v, want %v", tc.team, tc.day, got, tc.want)
			}
		})
	}
}

func TestOrgWorkingSeconds(t *testing.T) {
	o := mustParse(t, inheritanceFile) // payments: America/New_York, Mon-Thu
	ny := mustZone(t, "America/New_York")
	// Thu 2026-03-05 12:00 to Mon 2026-03-09 12:00 New York: Thursday's
	// afternoon and Monday's morning; Friday is not a working day here.
	from, to := time.Date(2026, 3, 5, 12, 0, 0, 0, ny), time.Date(2026, 3, 9, 12, 0, 0, 0, ny)
	if got, want := o.WorkingSeconds("payments", from, to), (24 * time.Hour).Seconds(); got != want {
		t.Errorf("WorkingSeconds(payments) = %v, want %v", got, want)
	}
}

func BenchmarkWorkingSeconds(b *testing.B) {
	a := agreement(b, "Europe/Berlin", mondayToFriday)
	from := time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		span time.Duration
	}{{"3 days", 64 * time.Hour}, {"90 days", 90 * 24 * time.Hour}, {"2 years", 730 * 24 * time.Hour}} {
		b.Run(bc.name, func(b *testing.B) {
			to := from.Add(bc.span)
			for b.Loop() {
				a.WorkingSeconds(from, to)
			}
		})
	}
}
