package synth

import (
	"math"
	"strconv"
	"time"

	"github.com/shoal-analytics/shoal/event"
)

// zone caches a location's UTC offset over the period it holds, so
// converting between unix and civil (local wall-clock) seconds is cheap.
type zone struct {
	loc          *time.Location
	lo, hi, offs int64
	valid        bool
}

func (z *zone) offset(u int64) int64 {
	if z.valid && u >= z.lo && u < z.hi {
		return z.offs
	}
	t := time.Unix(u, 0).In(z.loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	z.lo, z.hi, z.offs, z.valid = math.MinInt64, math.MaxInt64, int64(off), true
	if !s.IsZero() {
		z.lo = s.Unix()
	}
	if !e.IsZero() {
		z.hi = e.Unix()
	}
	return z.offs
}

// civil returns the local wall-clock time of u as seconds since the epoch.
func (z *zone) civil(u int64) int64 { return u + z.offset(u) }

// unix returns the instant of local wall-clock time c (the later reading
// for a time that repeats, a shifted one for a time that is skipped).
func (z *zone) unix(c int64) int64 {
	u := c - z.offset(c)
	return c - z.offset(u)
}

// civilDate converts days since the epoch to a proleptic Gregorian date
// (H. Hinnant's algorithm).
func civilDate(days int64) (y, m, d int64) {
	days += 719468
	era := floorDiv(days, 146097)
	doe := days - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendPadded appends a non-negative v with at least width digits.
func appendPadded(b []byte, v int64, width int) []byte {
	if width == 2 && v >= 0 && v < 100 {
		return append(b, byte('0'+v/10), byte('0'+v%10))
	}
	if width == 4 && v >= 0 && v < 10000 {
		return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
	}
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendDate appends the date of day (days since epoch) as YYYY-MM-DD.
func appendDate(b []byte, day int64) []byte {
	y, m, d := civilDate(day)
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, m, 2)
	b = append(b, '-')
	return appendPadded(b, d, 2)
}

// appendTime appends unix time u as RFC 3339 in the given style; z gives
// the offset for styleLocal.
func appendTime(b []byte, u int64, style timeStyle, z *zone) []byte {
	var off int64
	if style == styleLocal {
		off = z.offset(u)
	}
	c := u + off
	d := floorDiv(c, day)
	sec := c - d*day
	b = appendDate(b, d)
	b = append(b, 'T')
	b = appendPadded(b, sec/hour, 2)
	b = append(b, ':')
	b = appendPadded(b, sec%hour/minute, 2)
	b = append(b, ':')
	b = appendPadded(b, sec%minute, 2)
	switch style {
	case styleUTC:
		return append(b, 'Z')
	case styleUTCMillis:
		return append(b, ".000Z"...)
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = appendPadded(b, off/hour, 2)
	b = append(b, ':')
	return appendPadded(b, off%hour/minute, 2)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		plain = s[i] >= 0x20 && s[i] != '"' && s[i] != '\\'
	}
	if plain {
		b = append(b, s...)
		return append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// encode appends e as CloudEvents JSON with the fault bad ("" for none).
// keyed reports whether the result has a readable data.team.
func encode(b []byte, e *ev, bad string) (_ []byte, keyed bool) {
	src := e.src
	z := &e.team.z
	typ := event.Types[e.typ]
	switch bad {
	case BadUnknownType:
		typ = UnknownType
	case BadSurveillanceType:
		typ = SurveillanceTypes[int(e.variant)%len(SurveillanceTypes)]
	}
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = src.appendNextID(b)
	b = append(b, `","source":`...)
	b = appendString(b, src.url)
	b = append(b, `,"type":`...)
	b = appendString(b, typ)
	b = append(b, `,"time":"`...)
	if bad == BadTime {
		b = append(b, BadTimeValue...)
	} else {
		b = appendTime(b, e.at, src.style, z)
	}
	b = append(b, `","data":`...)
	if bad == BadTooLarge {
		b = append(b, padding...)
	}
	b = append(b, '{')
	sep := false
	str := func(name, v string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
		b = appendString(b, v)
	}
	ts := func(name string, u int64) {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		b = appendTime(b, u, src.style, z)
		b = append(b, '"')
	}
	if bad != BadMissingField {
		str("team", e.team.id)
	}
	personEnd := -1
	person := func() {
		if e.person != "" {
			str("person", e.person)
			personEnd = len(b)
		}
	}
	switch {
	case bad == BadSurveillanceType && typ == SurveillanceTypes[1]:
		person()
	case bad == BadSurveillanceType:
		person()
		ts("start", e.start)
		ts("end", e.end)
	case e.typ == tTime:
		person()
		ts("start", e.start)
		ts("end", e.end)
		if bad == BadValue {
			str("category", BadCategoryValue)
		} else {
			str("category", e.category)
		}
		if e.task != "" {
			str("task", e.task)
		}
	case e.typ == tReqOpened:
		str("request", e.request)
		str("kind", e.kind)
		person()
	case e.typ == tReqResponded:
		str("request", e.request)
		person()
	default: // task events
		str("task", e.task)
		person()
		if e.due != "" {
			str("due", e.due)
		}
		if e.est > 0 {
			b = append(b, `,"estimate_hours":`...)
			b = strconv.AppendFloat(b, e.est, 'f', -1, 64)
		}
		if e.kind != "" {
			str("kind", e.kind)
		}
	}
	switch bad {
	case BadSurveillanceField:
		switch f := SurveillanceFields[int(e.variant)%len(SurveillanceFields)]; f {
		case "window_title":
			str(f, "Inbox - "+e.person+" - Mail")
		case "url":
			str(f, "https://mail.acme.example/u/"+e.person+"/inbox")
		default:
			b = append(b, `,"`+f+`":`...)
			b = strconv.AppendInt(b, 60+int64(e.variant)*7, 10)
		}
	case BadUnknownField:
		str(UnknownField, []string{"happy", "tired", "stressed"}[int(e.variant)%3])
	}
	b = append(b, "}}"...)
	if bad == BadMalformedJSON {
		// Truncate somewhere after the raw person id: a producer crashed
		// mid-write. Any proper prefix of an object is invalid JSON.
		cut := personEnd
		if room := len(b) - 2 - personEnd; room > 0 {
			cut += int(e.variant) % room
		}
		b = b[:cut]
	}
	return b, bad != BadMalformedJSON && bad != BadMissingField
}
