package agreements

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// validID reports whether id may name a team or a unit.
func validID(id string) bool { return idRE.MatchString(id) }

// suggestID turns a display name or a near-miss id into a valid id, or "".
func suggestID(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.TrimRight(b.String(), "-")
	out = strings.TrimLeft(out, "._")
	if len(out) > 128 {
		out = strings.TrimRight(out[:128], "-")
	}
	if !validID(out) {
		return ""
	}
	return out
}

const maxDays = 3650

var daysRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)d(.*)$`)

var (
	errNotDuration = errors.New("not a duration")
	errTooLong     = errors.New("too long")
)

// parseDuration accepts a Go duration (24h, 90m, 1h30m) or days first, then
// an optional Go duration (2d, 1.5d, 1d12h); a day is 24 hours.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	m := daysRE.FindStringSubmatch(s)
	if m == nil {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, errNotDuration // also on overflow: time reports both alike
		}
		return d, nil
	}
	days, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, errNotDuration
	}
	if days > maxDays {
		return 0, errTooLong
	}
	d := time.Duration(math.Round(days * float64(24*time.Hour)))
	if rest := m[2]; rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, errNotDuration
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, errNotDuration
		}
		if r > math.MaxInt64-d {
			return 0, errTooLong
		}
		d += r
	}
	return d, nil
}

var weekdays = func() map[string]time.Weekday {
	m := make(map[string]time.Weekday, 14)
	for d := time.Sunday; d <= time.Saturday; d++ {
		name := strings.ToLower(d.String())
		m[name] = d
		m[name[:3]] = d
	}
	return m
}()

// parseWeekday accepts an English weekday name or its first three letters,
// in any case.
func parseWeekday(s string) (time.Weekday, bool) {
	d, ok := weekdays[strings.ToLower(strings.TrimSpace(s))]
	return d, ok
}

// rangeDashes separate the two ends of a range of weekdays: hyphen, en dash
// and em dash.
var rangeDashes = []string{"-", "–", "—"}

// parseDays parses one item of working_days: a weekday (Mon) or an
// inclusive range that may wrap over the weekend (Mon-Fri, Sun-Thu,
// Fri-Mon), and adds its days to set.
func parseDays(s string, set *[7]bool) bool {
	for _, dash := range rangeDashes {
		first, last, ok := strings.Cut(s, dash)
		if !ok {
			continue
		}
		from, ok1 := parseWeekday(first)
		to, ok2 := parseWeekday(last)
		if !ok1 || !ok2 {
			return false
		}
		for d := from; ; d = (d + 1) % 7 {
			set[d] = true
			if d == to {
				return true
			}
		}
	}
	d, ok := parseWeekday(s)
	if ok {
		set[d] = true
	}
	return ok
}

// closest returns the allowed key a mistyped key most likely meant, or "".
func closest(key string, allowed []string) string {
	key = strings.ToLower(key)
	best, bestDist := "", math.MaxInt
	for _, a := range allowed {
		d := editDistance(key, a)
		if d < bestDist {
			best, bestDist = a, d
		}
	}
	if best != "" && bestDist <= max(1, len(best)/3) {
		return best
	}
	if len(key) >= 3 {
		for _, a := range allowed {
			if strings.Contains(a, key) || strings.Contains(key, a) {
				return a
			}
		}
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
