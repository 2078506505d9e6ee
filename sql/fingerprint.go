package sql

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Fingerprint identifies a statement's shape in the audit log without
// carrying its literal values: comments are dropped, string and number
// literals become ?, whitespace collapses and unquoted text is lower-cased;
// the result is hashed (SHA-256, first 16 hex digits). The same query with
// other filter values has the same fingerprint. The statement text itself
// is never logged.
func Fingerprint(query string) string {
	sum := sha256.Sum256([]byte(Normalize(query)))
	return hex.EncodeToString(sum[:8])
}

// Normalize is the text Fingerprint hashes.
func Normalize(q string) string {
	var b strings.Builder
	space := false
	emit := func(s string) {
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteString(s)
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isWord := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c >= 0x80
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			space = true
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
			space = true
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				i = len(q)
			} else {
				i += end + 4
			}
			space = true
		case c == '\'':
			i++
			for i < len(q) {
				if q[i] == '\'' {
					if i+1 < len(q) && q[i+1] == '\'' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			emit("?")
		case c == '$' && i+1 < len(q) && (q[i+1] == '$' || !isDigit(q[i+1]) && isWord(q[i+1])):
			// $tag$ ... $tag$ dollar quoting
			j := strings.IndexByte(q[i+1:], '$')
			isTag := j >= 0
			for k := i + 1; isTag && k < i+1+j; k++ {
				isTag = isWord(q[k])
			}
			if !isTag { // not a $tag$: an ordinary character
				emit("$")
				i++
				continue
			}
			tag := q[i : i+j+2]
			end := strings.Index(q[i+len(tag):], tag)
			if end < 0 {
				i = len(q)
			} else {
				i += len(tag) + end + len(tag)
			}
			emit("?")
		case c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == '"' {
					if j+1 < len(q) && q[j+1] == '"' {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			emit(q[i:j])
			i = j
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]):
			for i < len(q) && (isWord(q[i]) || q[i] == '.') {
				i++
			}
			emit("?")
		case isWord(c):
			j := i
			for j < len(q) && isWord(q[j]) {
				j++
			}
			emit(strings.ToLower(q[i:j]))
			i = j
		default:
			emit(string(c))
			i++
		}
	}
	return b.String()
}
