package ingest

import (
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// maxDeadLetterNames bounds how many field names a dead-letter body lists.
const maxDeadLetterNames = 64

// MaxDeadLetterBytes bounds a dead-letter body. The body is built from
// bounded parts (five envelope values of at most event.MaxIdentifierLen
// bytes, at most maxDeadLetterNames names of at most 64 bytes), so it
// never needs cutting.
const MaxDeadLetterBytes = 8 << 10

// DeadLetter returns the key and the body to write to the dead-letter
// topic for a refused message. The DLQ is storage too, and a refused
// message is by definition one nobody reviewed, so the copy is default
// deny: it keeps what can be shown harmless and drops every other value,
// rather than scrubbing what looks dangerous.
//
// If the body is a JSON object, the copy is a JSON object with
//   - the envelope: specversion if it is "1.0", type if it is one of the
//     accepted types, time if it is an RFC 3339 timestamp, and id and source
//     if each is a string of at most event.MaxIdentifierLen bytes of
//     printable UTF-8 without spaces that holds nothing like a person
//     identifier (privacy.PersonIdentifierIn). A key that appears twice
//     keeps no value;
//   - shoal_reason, and shoal_field when one field is the reason;
//   - shoal_team: data.team, only when the teams file lists it (SetTeams);
//   - shoal_fields: the names of the envelope's attributes and of data's
//     fields ("data.team"), in message order, as Rejection.Detail shows
//     names (safeName), at most 64 of them (shoal_fields_more counts the
//     rest);
//   - shoal_body_bytes: the length of the message.
//
// Every other value is dropped: data's values (person, free text, ids),
// unknown attributes, nested objects, also those of accepted types. A body
// that is not a JSON object (malformed, truncated, empty, an array) is
// replaced by {"shoal_reason":...,"shoal_body":"not a JSON object",
// "shoal_body_bytes":N}. The key is kept only when it is the listed team
// that shoal_team shows; otherwise the dead letter has no key.
//
// rej is the reason Decode gave (nil only in tests).
func (d *Decoder) DeadLetter(key, msg []byte, rej *Rejection) (dlqKey, body []byte) {
	c := deadLetter{lx: parser{b: msg, syntaxOnly: true}}
	ok := c.parse()
	out := make([]byte, 0, 256)
	out = append(out, '{')
	field := func(name string) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = appendQuoted(out, []byte(name))
		out = append(out, ':')
	}
	var team []byte
	if ok {
		for s, name := range envNames {
			if v, keep := c.envValue(s); keep {
				field(name)
				out = appendQuoted(out, v)
			}
		}
		team = c.listedTeam(d.listed)
	}
	if rej != nil {
		field("shoal_reason")
		out = appendQuoted(out, []byte(rej.Reason))
		if rej.Field != "" {
			field("shoal_field")
			out = appendQuoted(out, []byte(rej.Field))
		}
	}
	if !ok {
		field("shoal_body")
		out = appendQuoted(out, []byte("not a JSON object"))
	} else {
		if team != nil {
			field("shoal_team")
			out = appendQuoted(out, team)
		}
		field("shoal_fields")
		out = append(out, '[')
		for i, n := range c.names {
			if i > 0 {
				out = append(out, ',')
			}
			out = appendQuoted(out, []byte(n))
		}
		out = append(out, ']')
		if c.more > 0 {
			field("shoal_fields_more")
			out = strconv.AppendInt(out, int64(c.more), 10)
		}
	}
	field("shoal_body_bytes")
	out = strconv.AppendInt(out, int64(len(msg)), 10)
	out = append(out, '}')
	if team != nil && string(key) == string(team) {
		dlqKey = team
	}
	return dlqKey, out
}

// deadLetter is what a dead-letter body keeps of a message, found in one
// syntax-only pass over its outer object and its data object.
type deadLetter struct {
	lx        parser
	env       [nEnv]jval
	envCount  [nEnv]int
	team      jval
	teamCount int
	names     []string
	more      int
}

// parse walks the message; ok is false if it is not one JSON object.
func (c *deadLetter) parse() bool {
	lx := &c.lx
	lx.ws()
	if lx.i >= len(lx.b) || lx.b[lx.i] != '{' {
		return false
	}
	ok := c.object(1, func(name []byte, depth int) bool {
		slot := envSlot(name)
		c.name(safeName(string(name)))
		if slot == eData && lx.i < len(lx.b) && lx.b[lx.i] == '{' {
			c.envCount[eData]++
			return c.object(depth+1, func(name []byte, depth int) bool {
				c.name("data." + safeName(string(name)))
				v, ok := lx.value(depth, "")
				if string(name) == "team" {
					c.team = v
					c.teamCount++
				}
				return ok
			})
		}
		v, ok := lx.value(depth, "")
		if slot >= 0 {
			c.env[slot] = v
			c.envCount[slot]++
		}
		return ok
	})
	if !ok {
		return false
	}
	lx.ws()
	return lx.i == len(lx.b)
}

func (c *deadLetter) name(n string) {
	if len(c.names) < maxDeadLetterNames {
		c.names = append(c.names, n)
	} else {
		c.more++
	}
}

// object walks the object at lx.i, calling member with each key after its
// ':' (member consumes the value).
func (c *deadLetter) object(depth int, member func(name []byte, depth int) bool) bool {
	lx := &c.lx
	if depth > maxNesting {
		return false
	}
	lx.i++ // '{'
	lx.ws()
	if lx.i < len(lx.b) && lx.b[lx.i] == '}' {
		lx.i++
		return true
	}
	for {
		lx.ws()
		if lx.i >= len(lx.b) || lx.b[lx.i] != '"' {
			return false
		}
		kv, ok := lx.str()
		if !ok {
			return false
		}
		name, _ := lx.bytes(kv)
		lx.ws()
		if lx.i >= len(lx.b) || lx.b[lx.i] != ':' {
			return false
		}
		lx.i++
		lx.ws()
		if !member(name, depth) {
			return false
		}
		lx.ws()
		if lx.i >= len(lx.b) {
			return false
		}
		switch lx.b[lx.i] {
		case ',':
			lx.i++
		case '}':
			lx.i++
			return true
		default:
			return false
		}
	}
}

// envValue returns the envelope value of slot if the copy may keep it.
func (c *deadLetter) envValue(slot int) ([]byte, bool) {
	v := c.env[slot]
	if c.envCount[slot] != 1 || v.kind != jString {
		return nil, false
	}
	b, ok := c.lx.bytes(v)
	if !ok {
		return nil, false
	}
	switch slot {
	case eSpecVersion:
		return b, string(b) == event.SpecVersion
	case eType:
		return b, slices.Contains(event.Types, string(b))
	case eTime:
		_, ok := parseTimestamp(b)
		return b, ok
	case eID, eSource:
		return b, harmlessID(b)
	}
	return nil, false
}

// harmlessID reports whether an id or source may be kept: printable UTF-8
// of at most event.MaxIdentifierLen bytes, no spaces (ids and URIs have
// none; free text has), nothing like a person identifier.
func harmlessID(b []byte) bool {
	if checkText(b, true, event.MaxIdentifierLen) != "" {
		return false
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == ' ' || r == 0xa0 || r >= 0x2000 && r <= 0x200b || r == 0x3000 {
			return false
		}
		i += n
	}
	_, found := privacy.PersonIdentifierIn(b)
	return !found
}

// listedTeam returns data.team if the teams file lists it, else nil.
func (c *deadLetter) listedTeam(listed func(string) bool) []byte {
	if listed == nil || c.teamCount != 1 || c.team.kind != jString {
		return nil
	}
	b, ok := c.lx.bytes(c.team)
	if !ok || checkText(b, true, event.MaxTeamLen) != "" || !listed(string(b)) {
		return nil
	}
	if _, found := privacy.PersonIdentifierIn(b); found {
		return nil
	}
	return b
}

// appendQuoted appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendQuoted(dst, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}
