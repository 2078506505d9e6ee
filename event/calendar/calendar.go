// Package calendar holds Shoal's only day and week arithmetic. Days are
// counted from 1970-01-01 (day 0, a Thursday) in a calendar with no time
// zone: a team's day is its local date. Weeks are ISO weeks, Monday to
// Sunday. It imports only the standard library, so every package (the
// report renderer included) can use it without Arrow or Kafka.
package calendar

import "time"

// DayOf returns the calendar day of t in loc as days since 1970-01-01.
func DayOf(t time.Time, loc *time.Location) int32 {
	y, m, d := t.In(loc).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DateOf returns the day number of a civil date.
func DateOf(y int, m time.Month, d int) int32 {
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DayTime returns midnight UTC of a day number (for printing).
func DayTime(day int32) time.Time { return time.Unix(int64(day)*86400, 0).UTC() }

// WeekStart returns the Monday of day's ISO week.
func WeekStart(day int32) int32 {
	m := (int64(day) + 3) % 7 // day 0 was a Thursday
	if m < 0 {
		m += 7
	}
	return int32(int64(day) - m)
}

// WeekStartOf returns the Monday of the ISO week containing t in loc.
func WeekStartOf(t time.Time, loc *time.Location) int32 { return WeekStart(DayOf(t, loc)) }
