package ingest

import (
	"strings"
	"unicode/utf8"

	"github.com/shoal-analytics/shoal/privacy"
)

// MaxSanitizedBytes bounds a dead-letter body: Sanitize truncates its
// output to this many bytes (at a UTF-8 boundary).
const MaxSanitizedBytes = 256 << 10

// Replacement values Sanitize writes into dead-letter bodies.
const (
	removedSurveillance = "[removed: surveillance]"
	removedPerson       = "[removed: person]"
)

// Sanitize returns the body to write to the dead-letter topic for a refused
// message: the DLQ is storage too, so no raw person identifier and no
// monitoring value may reach it.
//
// If msg is JSON, it is re-encoded (compact, keys in their original order,
// duplicates kept) with
//   - the value of every person-like key (person, user, user_id, email,
//     assignee, author, reporter, owner, actor, login, username, name,
//     creator, responder, requester, their plurals, any key with one of
//     these as a word such as assignee_email or userName, and *_by keys), at
//     any depth and in any case, replaced by its pseudonym if it is a
//     string, or removed with its key otherwise;
//   - the value of every surveillance-vocabulary key replaced by
//     "[removed: surveillance]";
//   - every email-like substring of any other string or key replaced by its
//     pseudonym.
//
// Otherwise (malformed JSON, a truncated too_large body, a message key) the
// bytes are kept, except that email-like substrings are replaced by their
// pseudonyms, inside string literals (decoded first, so escapes cannot hide
// an address) and outside them, and the value after a person-like or
// surveillance key ("key": value, also with single quotes) is replaced as
// above: by its pseudonym if it is a string, by "[removed: person]" or
// "[removed: surveillance]" otherwise. Either way the result is truncated to
// MaxSanitizedBytes.
//
// "Email-like" is deliberately broad: any run of email characters (RFC 5322
// atext, '.', '@', and any non-ASCII byte) that contains an '@' and is
// longer than the '@' alone.
//
// rej is the reason Decode gave (it may be nil). For surveillance_type the
// whole data object is monitoring data, whatever its keys are called (a
// screenshot under "image", say), so the envelope's data value is replaced
// by "[removed: surveillance]" too.
func (d *Decoder) Sanitize(msg []byte, rej *Rejection) []byte {
	if msg == nil {
		return nil
	}
	s := sanitizer{p: d.p, dropData: rej != nil && rej.Reason == ReasonSurveillanceType}
	out, ok := s.json(msg)
	if !ok {
		out = s.raw(msg)
	}
	return truncateUTF8(out, MaxSanitizedBytes)
}

func truncateUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return b[:n]
}

type sanitizer struct {
	p        *privacy.Pseudonymizer
	lx       parser // lexer over the message (syntaxOnly)
	out      []byte
	dropData bool // remove the envelope's data value (surveillance_type)
}

// topLevel is the depth object sees for the message's outermost object.
const topLevel = 2

// json sanitizes msg as one JSON value; ok is false if msg is not JSON.
func (s *sanitizer) json(msg []byte) (out []byte, ok bool) {
	s.lx = parser{b: msg, syntaxOnly: true}
	s.out = make([]byte, 0, len(msg)+len(msg)/4)
	s.lx.ws()
	if !s.value(1) {
		return nil, false
	}
	s.lx.ws()
	if s.lx.i != len(msg) {
		return nil, false
	}
	return s.out, true
}

func (s *sanitizer) value(depth int) bool {
	lx := &s.lx
	if lx.i >= len(lx.b) || depth > maxNesting {
		return false
	}
	switch c := lx.b[lx.i]; c {
	case '"':
		v, ok := lx.str()
		if !ok {
			return false
		}
		text, _ := unescape(nil, lx.b[v.start:v.end])
		s.out = s.quote(s.out, text)
		return true
	case '{':
		return s.object(depth + 1)
	case '[':
		lx.i++
		s.out = append(s.out, '[')
		lx.ws()
		if lx.i < len(lx.b) && lx.b[lx.i] == ']' {
			lx.i++
			s.out = append(s.out, ']')
			return true
		}
		for {
			lx.ws()
			if !s.value(depth + 1) {
				return false
			}
			lx.ws()
			if lx.i >= len(lx.b) {
				return false
			}
			switch lx.b[lx.i] {
			case ',':
				lx.i++
				s.out = append(s.out, ',')
			case ']':
				lx.i++
				s.out = append(s.out, ']')
				return true
			default:
				return false
			}
		}
	}
	start := lx.i
	if _, ok := lx.value(depth, ""); !ok {
		return false
	}
	s.out = append(s.out, lx.b[start:lx.i]...) // number or literal
	return true
}

func (s *sanitizer) object(depth int) bool {
	lx := &s.lx
	lx.i++
	s.out = append(s.out, '{')
	lx.ws()
	if lx.i < len(lx.b) && lx.b[lx.i] == '}' {
		lx.i++
		s.out = append(s.out, '}')
		return true
	}
	first := true
	for {
		lx.ws()
		if lx.i >= len(lx.b) || lx.b[lx.i] != '"' {
			return false
		}
		kv, ok := lx.str()
		if !ok {
			return false
		}
		name, _ := unescape(nil, lx.b[kv.start:kv.end])
		lx.ws()
		if lx.i >= len(lx.b) || lx.b[lx.i] != ':' {
			return false
		}
		lx.i++
		lx.ws()
		key := func() {
			if !first {
				s.out = append(s.out, ',')
			}
			first = false
			s.out = s.quote(s.out, name)
			s.out = append(s.out, ':')
		}
		kind := classifyKey(string(name))
		if s.dropData && depth == topLevel && string(name) == "data" {
			kind = keySurveillance
		}
		switch kind {
		case keySurveillance:
			if _, ok := lx.value(depth, ""); !ok {
				return false
			}
			key()
			s.out = appendQuoted(s.out, []byte(removedSurveillance))
		case keyPerson:
			v, ok := lx.value(depth, "")
			if !ok {
				return false
			}
			if v.kind == jString { // other values are dropped with their key
				text, _ := unescape(nil, lx.b[v.start:v.end])
				key()
				s.out = appendQuoted(s.out, []byte(s.p.Pseudonym(string(text))))
			}
		default:
			key()
			if !s.value(depth) {
				return false
			}
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
			s.out = append(s.out, '}')
			return true
		default:
			return false
		}
	}
}

// quote appends text as a JSON string with email-like runs pseudonymized.
func (s *sanitizer) quote(dst, text []byte) []byte {
	if hasEmailRun(text) {
		text = s.scrub(nil, text)
	}
	return appendQuoted(dst, text)
}

// raw sanitizes bytes that are not JSON. String literals are delimited by
// double quotes, or by single quotes where a JSON string could start (after
// '{', '[', ',', ':' or at the beginning), so Python-style dicts are
// handled too.
func (s *sanitizer) raw(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+len(msg)/4)
	for i := 0; i < len(msg); {
		if !isQuoteAt(msg, i) {
			j := i + 1
			for j < len(msg) && !isQuoteAt(msg, j) {
				j++
			}
			out = s.scrub(out, msg[i:j])
			i = j
			continue
		}
		end, closed := lexStringLenient(msg, i)
		text := literalText(msg, i, end, closed)
		out = s.rawString(out, msg[i:end], text, closed)
		i = end
		j := skipWS(msg, end)
		if !closed || j >= len(msg) || msg[j] != ':' {
			continue
		}
		// A key: look at its value.
		k := skipWS(msg, j+1)
		out = append(out, msg[end:k]...)
		i = k
		kind := classifyKey(string(text))
		if kind == keyOther || k >= len(msg) {
			continue
		}
		var vend int
		var vtext []byte
		quote := byte('"')
		switch c := msg[k]; c {
		case '"', '\'':
			quote = c
			var vclosed bool
			vend, vclosed = lexStringLenient(msg, k)
			vtext = literalText(msg, k, vend, vclosed)
		case '{', '[':
			vend = skipCompositeLenient(msg, k)
		default:
			vend = k
			for vend < len(msg) && !strings.ContainsRune(",}]{[\"': \t\r\n", rune(msg[vend])) {
				vend++
			}
			if vend == k {
				continue
			}
		}
		repl := removedPerson
		switch {
		case kind == keySurveillance:
			repl = removedSurveillance
		case vtext != nil:
			repl = s.p.Pseudonym(string(vtext))
		}
		out = append(append(append(out, quote), repl...), quote)
		i = vend
	}
	return out
}

// isQuoteAt reports whether a string literal starts at b[i].
func isQuoteAt(b []byte, i int) bool {
	switch b[i] {
	case '"':
		return true
	case '\'':
		j := i - 1
		for j >= 0 && isWS(b[j]) {
			j--
		}
		return j < 0 || strings.IndexByte("{[,:", b[j]) >= 0
	}
	return false
}

// literalText is the text of the literal b[i:end]: JSON-unescaped for
// double quotes, verbatim for single quotes.
func literalText(b []byte, i, end int, closed bool) []byte {
	body := b[i+1 : end]
	if closed {
		body = b[i+1 : end-1]
	}
	if b[i] == '\'' {
		return append([]byte{}, body...)
	}
	return unescapeLenient(body)
}

// rawString appends a string literal of a non-JSON message: verbatim if its
// text holds nothing email-like, else with the runs replaced (re-encoded
// for a double-quoted literal).
func (s *sanitizer) rawString(out, literal, text []byte, closed bool) []byte {
	if !hasEmailRun(text) {
		return append(out, literal...)
	}
	if literal[0] == '\'' {
		out = s.scrub(append(out, '\''), text)
		if closed {
			out = append(out, '\'')
		}
		return out
	}
	out = appendQuoted(out, s.scrub(nil, text))
	if !closed {
		out = out[:len(out)-1]
	}
	return out
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// lexStringLenient finds the end of the string literal starting at the
// quote (double or single) at b[i]: the index after its closing quote, or
// len(b) if it never closes.
func lexStringLenient(b []byte, i int) (end int, closed bool) {
	q := b[i]
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case q:
			return j + 1, true
		}
	}
	return len(b), false
}

// skipCompositeLenient finds the end of the object or array starting at
// b[i], counting brackets outside string literals; len(b) if it never closes.
func skipCompositeLenient(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _ := lexStringLenient(b, j)
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(b)
}

// unescapeLenient decodes a string body that may be malformed: invalid
// escapes are kept as they are.
func unescapeLenient(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		if s[i] != '\\' || i+1 >= len(s) {
			out = append(out, s[i])
			i++
			continue
		}
		if c, ok := simpleEscape(s[i+1]); ok {
			out = append(out, c)
			i += 2
			continue
		}
		switch s[i+1] {
		case 'u':
			if i+6 <= len(s) {
				if r := hex4(s[i+2 : i+6]); r >= 0 {
					out = utf8.AppendRune(out, r)
					i += 6
					continue
				}
			}
			out = append(out, s[i:i+2]...)
		default:
			out = append(out, s[i:i+2]...)
		}
		i += 2
	}
	return out
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

// isEmailByte reports whether c can be part of an email address: RFC 5322
// atext, '.', '@', or any byte of a non-ASCII character.
func isEmailByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= utf8.RuneSelf:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~.@", c) >= 0
}

// isEdgePunct reports whether c is email punctuation that scrub keeps
// outside the pseudonym when it starts or ends a run (quotes, brackets,
// sentence dots), so an address gets the same pseudonym wherever it appears.
func isEdgePunct(c byte) bool {
	return c != '@' && strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
}

// hasEmailRun reports whether b holds an email-like run.
func hasEmailRun(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '@' {
			continue
		}
		if i > 0 && isEmailByte(b[i-1]) || i+1 < len(b) && isEmailByte(b[i+1]) {
			return true
		}
	}
	return false
}

// scrub appends b to dst with every email-like run (a maximal run of email
// bytes that contains '@' and is longer than one byte) replaced by the
// pseudonym of the run without its leading and trailing punctuation.
func (s *sanitizer) scrub(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		if !isEmailByte(b[i]) {
			dst = append(dst, b[i])
			i++
			continue
		}
		j, at := i, false
		for j < len(b) && isEmailByte(b[j]) {
			at = at || b[j] == '@'
			j++
		}
		run := b[i:j]
		if !at || len(run) == 1 {
			dst = append(dst, run...)
			i = j
			continue
		}
		lo, hi := 0, len(run)
		for lo < hi && isEdgePunct(run[lo]) {
			lo++
		}
		for hi > lo && isEdgePunct(run[hi-1]) {
			hi--
		}
		dst = append(dst, run[:lo]...)
		if core := run[lo:hi]; len(core) > 1 {
			dst = append(dst, s.p.Pseudonym(string(core))...)
		} else {
			dst = append(dst, core...) // a lone '@' amid punctuation
		}
		dst = append(dst, run[hi:]...)
		i = j
	}
	return dst
}

// Kinds of keys for Sanitize.
const (
	keyOther = iota
	keyPerson
	keySurveillance
)

// personWords are the words that make a key person-like (see Sanitize).
var personWords = map[string]bool{
	"person": true, "persons": true, "people": true, "user": true, "users": true, "userid": true,
	"email": true, "emails": true, "mail": true, "assignee": true, "assignees": true,
	"author": true, "authors": true, "reporter": true, "reporters": true, "owner": true, "owners": true,
	"actor": true, "actors": true, "login": true, "logins": true, "username": true, "usernames": true,
	"name": true, "names": true, "creator": true, "creators": true, "responder": true, "responders": true,
	"requester": true, "requesters": true, "requestor": true, "reviewer": true, "reviewers": true,
	"member": true, "members": true, "participant": true, "participants": true, "attendee": true,
	"attendees": true, "sender": true, "recipient": true, "recipients": true, "employee": true,
	"employees": true, "handle": true, "displayname": true, "fullname": true, "watcher": true,
	"watchers": true, "mention": true, "mentions": true, "contact": true,
}

// classifyKey says whether a key's value must be removed (surveillance),
// pseudonymized (person-like) or kept.
func classifyKey(name string) int {
	if _, bad := privacy.IsSurveillanceName(name); bad {
		return keySurveillance
	}
	if personWords[strings.ToLower(name)] {
		return keyPerson
	}
	words := splitWords(name)
	for _, w := range words {
		if personWords[w] {
			return keyPerson
		}
	}
	if n := len(words); n > 1 && words[n-1] == "by" { // created_by, assignedBy
		return keyPerson
	}
	return keyOther
}

// splitWords lower-cases name and splits it on separators and camelCase
// boundaries, as privacy.IsSurveillanceName does.
func splitWords(name string) []string {
	var words []string
	start := -1
	prevLower := false
	flush := func(end int) {
		if start >= 0 && end > start {
			words = append(words, strings.ToLower(name[start:end]))
		}
		start = -1
	}
	for i, r := range name {
		switch {
		case strings.ContainsRune("._- /:", r):
			flush(i)
			prevLower = false
		case r >= 'A' && r <= 'Z':
			if prevLower {
				flush(i)
			}
			if start < 0 {
				start = i
			}
			prevLower = false
		default:
			if start < 0 {
				start = i
			}
			prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		}
	}
	flush(len(name))
	return words
}
