package privacy

import (
	"unicode/utf8"
)

// What PersonIdentifierIn found.
const (
	IdentifierEmail  = "an e-mail address"
	IdentifierHandle = "a user handle"
	IdentifierPhone  = "a phone number"
)

// PersonIdentifierIn reports whether s holds something that looks like a
// person identifier, and which kind: an e-mail address (an '@' between a
// local part and a domain, also as URL userinfo or in mailto:), an @handle
// (an '@' starting a word), or a phone number (an international number
// after '+', a tel:/sms:/callto: URI, an area code in parentheses, a
// North American 3-3-4 group, or a national number with a leading 0 in
// groups). Percent-encoding (%40 for '@', %2B for '+') and the full-width
// forms of '@' and '+' are read as the characters they stand for.
//
// It is the check for the fields that identify things, never people:
// team, task, request, source, id and subject. It is deliberately narrow
// on numbers so that ids stay ids: PROJ-123, #123, 100001, UUIDs, dates,
// Slack timestamps (1712345678.100001) and URLs without userinfo are not
// identifiers; "pkg@1.2.3" and "lib@v2" (versions) are not either.
func PersonIdentifierIn[T ~string | ~[]byte](s T) (kind string, found bool) {
	b := []byte(s) // no copy for a []byte
	ats, digits, special := census(b)
	if special {
		b = normalizeIdentifier(b)
		ats, digits, _ = census(b)
	}
	if ats > 0 {
		if k := atSignIdentifier(b); k != "" {
			return k, true
		}
	}
	if digits >= minPhoneDigits && phoneIn(b) {
		return IdentifierPhone, true
	}
	return "", false
}

// minPhoneDigits is the fewest digits any phone number shape has, so a
// value with fewer is not scanned for one.
const minPhoneDigits = 7

// census counts b's '@' bytes and digits, and reports whether it holds a
// percent escape or non-ASCII bytes that normalizeIdentifier may rewrite.
func census(b []byte) (ats, digits int, special bool) {
	for _, c := range b {
		switch {
		case isDigit(c):
			digits++
		case c == '@':
			ats++
		case c == '%' || c >= utf8.RuneSelf:
			special = true
		}
	}
	return ats, digits, special
}

// normalizeIdentifier decodes percent escapes (once) and maps the
// full-width and small forms of '@' and '+' to ASCII.
func normalizeIdentifier(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		if c == '%' && i+2 < len(b) {
			if h, ok := unhex(b[i+1], b[i+2]); ok {
				out = append(out, h)
				i += 3
				continue
			}
		}
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		switch r {
		case '＠', '﹫':
			out = append(out, '@')
		case '＋', '﹢':
			out = append(out, '+')
		default:
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func unhex(a, b byte) (byte, bool) {
	h, ok1 := hexVal(a)
	l, ok2 := hexVal(b)
	return h<<4 | l, ok1 && ok2
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool { return alnum[c] }

var alnum = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	return t
}()

// isLocalByte reports whether c can end the local part of an e-mail
// address: RFC 5322 atext, '.', or a byte of a non-ASCII character.
func isLocalByte(c byte) bool {
	if isAlnum(c) || c >= utf8.RuneSelf {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~', '.':
		return true
	}
	return false
}

// isNameByte reports whether c can start a domain or a handle.
func isNameByte(c byte) bool { return isAlnum(c) || c == '_' || c >= utf8.RuneSelf }

// atSignIdentifier returns the kind of the first identifier built around
// an '@', or "".
func atSignIdentifier(b []byte) string {
	for i, c := range b {
		if c != '@' || i+1 >= len(b) || !isNameByte(b[i+1]) {
			continue
		}
		if i == 0 || !isLocalByte(b[i-1]) {
			return IdentifierHandle
		}
		if !isVersion(b[i+1:]) {
			return IdentifierEmail
		}
	}
	return ""
}

// isVersion reports whether the text after an '@' is a version (1.2.3,
// v2, v1.0.0-rc1 is not: its domain-like run has letters) up to the next
// byte that cannot be part of a domain.
func isVersion(b []byte) bool {
	end := 0
	for end < len(b) && (isNameByte(b[end]) || b[end] == '.' || b[end] == '-') {
		end++
	}
	d := b[:end]
	if len(d) > 0 && (d[0] == 'v' || d[0] == 'V') {
		d = d[1:]
	}
	if len(d) == 0 || !isDigit(d[0]) {
		return false
	}
	for _, c := range d {
		if !isDigit(c) && c != '.' {
			return false
		}
	}
	return true
}

// phoneIn reports whether b holds something shaped like a phone number.
// It looks at each '+' and '(' and at the start of each run of letters
// and digits, and skips the rest of the run.
func phoneIn(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if !isAlnum(c) {
			switch {
			case c == '+' && (i == 0 || !isAlnum(b[i-1])) && internationalNumber(b[i+1:]):
				return true
			case c == '(' && areaCodeNumber(b[i+1:]):
				return true
			}
			i++
			continue
		}
		// The start of a word: b[i-1], if any, is not a letter or digit.
		switch {
		case isDigit(c):
			if nanpNumber(b[i:]) || nationalNumber(b[i:]) {
				return true
			}
		case c == 't' || c == 'T' || c == 's' || c == 'S' || c == 'c' || c == 'C':
			if telURI(b[i:]) {
				return true
			}
		}
		for i < len(b) && isAlnum(b[i]) {
			i++
		}
	}
	return false
}

// internationalNumber: after a '+', 8 to 15 digits in groups separated by
// single spaces, dashes, dots or parentheses ("+1 (415) 555-0100",
// "+4915112345678").
func internationalNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '(' {
		i++
	}
	if i >= len(b) || !isDigit(b[i]) {
		return false
	}
	digits, _ := digitRun(b[i:], " -.()")
	return digits >= 8 && digits <= 15
}

// telURI: tel:, sms: or callto: followed by a digit or '+' (the value
// has at least minPhoneDigits digits: phoneIn is not called otherwise).
func telURI(b []byte) bool {
	for _, scheme := range []string{"tel:", "sms:", "callto:"} {
		if len(b) > len(scheme) && equalFoldASCII(b[:len(scheme)], scheme) {
			c := b[len(scheme)]
			return isDigit(c) || c == '+'
		}
	}
	return false
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// areaCodeNumber: after a '(', 2 to 5 digits, ')', then more digits in
// groups, 7 to 15 digits in all ("(415) 555-0100", "(030) 1234567").
func areaCodeNumber(b []byte) bool {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i < 2 || i > 5 || i >= len(b) || b[i] != ')' {
		return false
	}
	area := i
	i++
	if i < len(b) && (b[i] == ' ' || b[i] == '-') {
		i++
	}
	if i >= len(b) || !isDigit(b[i]) {
		return false
	}
	rest, _ := digitRun(b[i:], " -.")
	return area+rest >= 7 && area+rest <= 15 && rest >= 4
}

// digitRun counts the digits of the run of digits and separators (at most
// two in a row, as in "1 (415)") at the start of b; it returns the count
// and the run's length (trailing separators excluded).
func digitRun(b []byte, seps string) (digits, n int) {
	inSep := 0
	for i, c := range b {
		switch {
		case isDigit(c):
			digits++
			n = i + 1
			inSep = 0
		case containsByte(seps, c) && inSep < 2:
			inSep++
		default:
			return digits, n
		}
	}
	return digits, n
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// maxGroups is the most digit groups groups looks at.
const maxGroups = 8

// groups splits the run of digit groups at the start of b, separated by
// one separator byte that is the same throughout (one of seps), into the
// groups' lengths (the first maxGroups of them; n counts them all); it
// stops at the first other byte.
func groups(b []byte, seps string) (lens [maxGroups]int, n, end int) {
	var sep byte
	i := 0
	for {
		j := i
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if j == i {
			return lens, n, end
		}
		if n < maxGroups {
			lens[n] = j - i
		}
		n, end = n+1, j
		if j+1 >= len(b) || !containsByte(seps, b[j]) || !isDigit(b[j+1]) || (sep != 0 && b[j] != sep) {
			return lens, n, end
		}
		sep = b[j]
		i = j + 1
	}
}

// endsWord reports whether a number ending at b[end] is not glued to a
// letter or digit.
func endsWord(b []byte, end int) bool { return end >= len(b) || !isAlnum(b[end]) }

// nanpNumber: 415-555-0100, 415.555.0100 or 415 555 0100 (exactly 3-3-4).
func nanpNumber(b []byte) bool {
	lens, n, end := groups(b, "-. ")
	return n == 3 && lens[0] == 3 && lens[1] == 3 && lens[2] == 4 && endsWord(b, end)
}

// nationalNumber: a leading 0 in a group of 2 to 5 digits, then more
// groups with the same separator, 9 to 13 digits in all (0151 12345678,
// 030-1234567, 07700 900123). Dates (01.05.2024) have too few digits.
func nationalNumber(b []byte) bool {
	if b[0] != '0' {
		return false
	}
	lens, n, end := groups(b, " -./")
	if n < 2 || n > maxGroups || lens[0] < 2 || lens[0] > 5 || !endsWord(b, end) {
		return false
	}
	total := 0
	for _, l := range lens[:n] {
		total += l
	}
	return total >= 9 && total <= 13
}
