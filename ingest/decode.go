package ingest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/event/calendar"
	"github.com/shoal-analytics/shoal/privacy"
)

// maxNesting bounds how deeply a message may nest objects and arrays. A
// valid event nests two levels (envelope, data); anything deeper is refused
// anyway, and the bound keeps hostile input from costing stack.
const maxNesting = 64

// maxTimeEntry is the longest time entry accepted.
const maxTimeEntry = 24 * time.Hour

// Decoder validates messages against the event contract (docs/events.md,
// schema/events.schema.json) and turns accepted ones into pseudonymized
// event.Events. It parses each message in a single pass with a small
// hand-written JSON scanner (no reflection, no intermediate maps), so the
// accepted path allocates only the strings the Event keeps.
//
// The scanner stays hand-written rather than built on go-json-experiment's
// jsontext (issue 18): a port driving jsontext.Decoder, with duplicate names
// and invalid UTF-8 allowed so that they keep this decoder's own reasons,
// gave the same verdicts but measured at 2.0-2.2x the time per event on
// BenchmarkDecode and BenchmarkDecodeParallel (2026-12-06), past the 1.5x
// bound: jsontext's bare token loop alone takes 2-2.5x this scanner.
// Its syntax errors also quote input bytes, which a Rejection.Detail must not.
//
// A Decoder is safe for concurrent use by several goroutines, each with its
// own event.Event.
type Decoder struct {
	p        *privacy.Pseudonymizer
	loc      func(team string) *time.Location
	listed   func(team string) bool // nil: every team is accepted
	maxBytes int
	// The plausible window of times (SetTimeWindow): from earliest to ahead
	// past now().
	earliest time.Time
	ahead    time.Duration
	now      func() time.Time
}

// dueAhead is how far past now a due date may be.
const dueAhead = 10 * 366 * 24 * time.Hour

// NewDecoder returns a Decoder that pseudonymizes person fields with p and
// counts each event towards the calendar day of its team's time zone,
// loc(team) (nil loc, or a nil result, means UTC). Messages longer than
// maxBytes are refused as too_large; maxBytes <= 0 means
// event.DefaultMaxEventSz. p must not be nil.
func NewDecoder(p *privacy.Pseudonymizer, loc func(team string) *time.Location, maxBytes int) *Decoder {
	if p == nil {
		panic("ingest.NewDecoder: nil Pseudonymizer")
	}
	if maxBytes <= 0 {
		maxBytes = event.DefaultMaxEventSz
	}
	def := DefaultConfig()
	earliest, ahead, _ := def.TimeWindow()
	return &Decoder{p: p, loc: loc, maxBytes: maxBytes, earliest: earliest, ahead: ahead, now: time.Now}
}

// SetTimeWindow sets the plausible window of times (Config.TimeWindow):
// an event's time or a time entry before earliest or more than ahead past
// now, or a due date before earliest or more than ten years ahead, is
// refused as bad_time. now nil means time.Now. Call it before decoding.
func (d *Decoder) SetTimeWindow(earliest time.Time, ahead time.Duration, now func() time.Time) {
	d.earliest, d.ahead, d.now = earliest, ahead, now
	if d.now == nil {
		d.now = time.Now
	}
}

// SetTeams makes the decoder refuse, as unknown_team, an event whose team
// listed says is not in the teams file; nil (the default) accepts every
// team. listed is called for otherwise valid events only, with a team
// that passed the identifier check, from several goroutines at once. Call
// it before decoding.
func (d *Decoder) SetTeams(listed func(team string) bool) { d.listed = listed }

// plausible refuses a time outside [earliest, now+ahead].
func (d *Decoder) plausible(t time.Time, name string, ahead time.Duration) *Rejection {
	if t.Before(d.earliest) {
		return reject(ReasonBadTime, "%s is before %s, too early to be real (a zero or default time?); send when it happened", name, d.earliest.Format(time.DateOnly))
	}
	if latest := d.now().Add(ahead); t.After(latest) {
		return reject(ReasonBadTime, "%s is more than %s in the future; send when it happened (is the sender's clock right?)", name, ahead)
	}
	return nil
}

// Envelope attributes, by slot.
const (
	eSpecVersion = iota
	eID
	eSource
	eType
	eTime
	eDataContentType
	eSubject
	eDataSchema
	eData
	// ePseudonymized is the shoalpseudonymized extension attribute: true
	// when data.person already is the person's pseudonym (the intake's
	// events). Honoured only for a value of the pseudonym's shape.
	ePseudonymized
	// eUnmapped is the shoalunmapped extension attribute: true on an
	// activity the intake took for a person its people file does not list
	// (unmapped: refuse), sent without the person to be refused here as
	// unmapped_identity and counted like every refusal.
	eUnmapped
	nEnv
)

var envNames = [nEnv]string{"specversion", "id", "source", "type", "time", "datacontenttype", "subject", "dataschema", "data", "shoalpseudonymized", "shoalunmapped"}

const envRequired = 1<<eSpecVersion | 1<<eID | 1<<eSource | 1<<eType | 1<<eTime | 1<<eData

func envSlot(name []byte) int {
	switch string(name) {
	case "specversion":
		return eSpecVersion
	case "id":
		return eID
	case "source":
		return eSource
	case "type":
		return eType
	case "time":
		return eTime
	case "datacontenttype":
		return eDataContentType
	case "subject":
		return eSubject
	case "dataschema":
		return eDataSchema
	case "data":
		return eData
	case "shoalpseudonymized":
		return ePseudonymized
	case "shoalunmapped":
		return eUnmapped
	}
	return -1
}

// Data fields, by slot, in contract order (the order values are checked in).
const (
	fTeam = iota
	fTask
	fRequest
	fPerson
	fDue
	fEstimate
	fKind
	fStart
	fEnd
	fCategory
	fEntry
	fRevision
	nData
)

var dataNames = [nData]string{"team", "task", "request", "person", "due", "estimate_hours", "kind", "start", "end", "category", "entry", "revision"}

func dataSlot(name []byte) int {
	switch string(name) {
	case "team":
		return fTeam
	case "task":
		return fTask
	case "request":
		return fRequest
	case "person":
		return fPerson
	case "due":
		return fDue
	case "estimate_hours":
		return fEstimate
	case "kind":
		return fKind
	case "start":
		return fStart
	case "end":
		return fEnd
	case "category":
		return fCategory
	case "entry":
		return fEntry
	case "revision":
		return fRevision
	}
	return -1
}

// typeSpec is the contract of one event type's data object.
type typeSpec struct {
	name     string
	allowed  uint16 // data fields the type may carry
	required uint16 // data fields it must carry
	kinds    []string
}

func bits(fields ...int) uint16 {
	var m uint16
	for _, f := range fields {
		m |= 1 << f
	}
	return m
}

// typeSpecs is the decoder's view of the contract; TestSchemaAgreesWithDecoder
// checks it against schema/events.schema.json.
var typeSpecs = []typeSpec{
	{name: event.TaskCreated, allowed: bits(fTeam, fTask, fPerson, fDue, fEstimate, fKind), required: bits(fTeam, fTask), kinds: event.TaskKinds},
	{name: event.TaskStarted, allowed: bits(fTeam, fTask, fPerson), required: bits(fTeam, fTask, fPerson)},
	{name: event.TaskCompleted, allowed: bits(fTeam, fTask, fPerson), required: bits(fTeam, fTask, fPerson)},
	{name: event.TaskBlocked, allowed: bits(fTeam, fTask), required: bits(fTeam, fTask)},
	{name: event.TaskUnblocked, allowed: bits(fTeam, fTask), required: bits(fTeam, fTask)},
	{name: event.TaskReopened, allowed: bits(fTeam, fTask), required: bits(fTeam, fTask)},
	{name: event.TaskCancelled, allowed: bits(fTeam, fTask), required: bits(fTeam, fTask)},
	{name: event.TimeLogged, allowed: bits(fTeam, fPerson, fStart, fEnd, fCategory, fTask, fEntry, fRevision), required: bits(fTeam, fPerson, fStart, fEnd, fCategory)},
	{name: event.RequestOpened, allowed: bits(fTeam, fRequest, fKind, fPerson), required: bits(fTeam, fRequest, fKind), kinds: event.RequestKinds},
	{name: event.RequestResponded, allowed: bits(fTeam, fRequest, fPerson), required: bits(fTeam, fRequest, fPerson)},
	{name: event.TimeDeleted, allowed: bits(fTeam, fEntry, fRevision), required: bits(fTeam, fEntry, fRevision)},
}

func typeIndex(name []byte) int {
	for i := range typeSpecs {
		if string(name) == typeSpecs[i].name {
			return i
		}
	}
	return -1
}

// fieldList renders the data fields in mask, in contract order.
func fieldList(mask uint16, prefix string) string {
	var names []string
	for f := range nData {
		if mask&(1<<f) != 0 {
			names = append(names, prefix+dataNames[f])
		}
	}
	return strings.Join(names, ", ")
}

// isContractName reports whether name is an envelope attribute or data
// field of the contract. None of them is surveillance vocabulary (a test
// checks), so the decoder skips the vocabulary check for them.
func isContractName(name []byte) bool { return envSlot(name) >= 0 || dataSlot(name) >= 0 }

// jkind is the JSON kind of a value.
type jkind uint8

const (
	jString jkind = iota + 1
	jNumber
	jBool
	jNull
	jObject
	jArray
)

func (k jkind) String() string {
	switch k {
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	case jNull:
		return "null"
	case jObject:
		return "an object"
	case jArray:
		return "an array"
	}
	return "nothing"
}

// jval locates one value in the message: for strings the bytes between the
// quotes (esc if they contain escapes), otherwise the whole token.
type jval struct {
	kind       jkind
	esc        bool // a string with escapes
	high       bool // a string with DEL or non-ASCII bytes
	start, end int
}

// Nesting levels the parser treats specially.
const (
	levelOther = iota
	levelEnvelope
	levelData
)

// parser is one pass over one message. It checks JSON syntax strictly
// (including duplicate keys, at every depth), records where the contract's
// fields are, notes the first unknown key of the envelope and of data, and
// the first key anywhere that is surveillance vocabulary. It does not stop
// at contract problems: malformed JSON outranks all of them.
type parser struct {
	b   []byte
	i   int
	bad string // why the message is malformed JSON; "" while it is fine

	// syntaxOnly makes the parser check JSON syntax only: no duplicate-key,
	// vocabulary or contract bookkeeping (DeadLetter uses it to skip values).
	syntaxOnly bool

	survPath, survTerm string

	env      [nEnv]jval
	envSeen  uint16
	data     [nData]jval
	dataSeen uint16

	unknownEnv, unknownData string // first key outside the contract, rendered by safeName
	hasUnknownEnv           bool
	hasUnknownData          bool
}

func (p *parser) fail(format string, args ...any) bool {
	if p.bad == "" {
		p.bad = fmt.Sprintf(format, args...)
	}
	return false
}

func (p *parser) failAt(what string) bool {
	if p.i >= len(p.b) {
		return p.fail("the message ends early (%s); send one complete JSON object per message", what)
	}
	return p.fail("invalid JSON at byte %d: %s; send one JSON object per message, as produced by a JSON encoder", p.i, what)
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) ws() {
	for p.i < len(p.b) && isWS(p.b[p.i]) {
		p.i++
	}
}

// event parses the whole message as one JSON object.
func (p *parser) event() bool {
	p.ws()
	if p.i == len(p.b) {
		return p.fail("the message is empty; send one CloudEvents JSON object per message")
	}
	switch c := p.b[p.i]; {
	case c == '{':
	case c == '[':
		return p.fail("the message is a JSON array; send one event per message (CloudEvents structured mode), not a batch")
	case c == 0xEF && len(p.b) >= p.i+3 && p.b[p.i+1] == 0xBB && p.b[p.i+2] == 0xBF:
		return p.fail("the message starts with a byte order mark; send plain UTF-8 JSON without a BOM")
	default:
		return p.fail("the message is not a JSON object; send one CloudEvents JSON object per message")
	}
	if !p.object(1, levelEnvelope, "") {
		return false
	}
	p.ws()
	if p.i != len(p.b) {
		return p.failAt("there is more after the event's closing brace")
	}
	return true
}

// strClass classifies bytes inside a JSON string: 0 plain printable ASCII,
// 1 needs attention ('"', '\\', a control character), 2 DEL or non-ASCII
// (fine for JSON, but a field value holding one needs the full text check).
var strClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == '"' || c == '\\' || c < 0x20:
			t[c] = 1
		case c >= 0x7f:
			t[c] = 2
		}
	}
	return t
}()

// quick scans a string of plain printable ASCII without escapes starting at
// the opening quote at p.i, the common case, small enough to be inlined. If
// the string is anything else it returns ok false and leaves p.i alone.
func (p *parser) quick() (start, end int, ok bool) {
	b := p.b
	i := p.i + 1
	for i < len(b) && strClass[b[i]] == 0 {
		i++
	}
	if i < len(b) && b[i] == '"' {
		start, p.i = p.i+1, i+1
		return start, i, true
	}
	return 0, 0, false
}

// str scans a string starting at the opening quote at p.i. It notes in v.high
// whether the string holds DEL or non-ASCII bytes, so checkText can skip the
// UTF-8 and control-character scan for plain ASCII.
func (p *parser) str() (v jval, ok bool) {
	b := p.b
	i := p.i + 1
	v = jval{kind: jString, start: i}
	for i < len(b) {
		c := b[i]
		switch strClass[c] {
		case 0:
			i++
			continue
		case 2:
			v.high = true
			i++
			continue
		}
		switch c {
		case '"':
			v.end = i
			p.i = i + 1
			return v, true
		case '\\':
			v.esc = true
			if i+1 >= len(b) {
				p.i = len(b)
				return v, p.failAt("unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || hex4(b[i+2:i+6]) < 0 {
					p.i = i
					return v, p.failAt(`invalid \u escape in a string`)
				}
				i += 6
			default:
				p.i = i
				return v, p.failAt("invalid escape in a string")
			}
		default:
			p.i = i
			return v, p.failAt("unescaped control character in a string")
		}
	}
	p.i = len(b)
	return v, p.failAt("unterminated string")
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number() (jval, bool) {
	b, i := p.b, p.i
	v := jval{kind: jNumber, start: i}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && isDigit(b[i]):
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		p.i = i
		return v, p.failAt("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			p.i = i
			return v, p.failAt("invalid number: no digits after the decimal point")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			p.i = i
			return v, p.failAt("invalid number: no digits in the exponent")
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	p.i, v.end = i, i
	return v, true
}

func (p *parser) literal(word string, k jkind) (jval, bool) {
	v := jval{kind: k, start: p.i}
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return v, p.failAt("invalid literal (only true, false and null are JSON literals)")
	}
	p.i += len(word)
	v.end = p.i
	return v, true
}

// value scans the value at p.i; depth is the nesting depth of the object or
// array holding it, path its dotted location (used only to name a nested
// surveillance key).
func (p *parser) value(depth int, path string) (jval, bool) {
	if p.i >= len(p.b) {
		return jval{}, p.failAt("a value is missing")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		if start, end, ok := p.quick(); ok {
			return jval{kind: jString, start: start, end: end}, true
		}
		return p.str()
	case c == '{':
		v := jval{kind: jObject, start: p.i}
		ok := p.object(depth+1, levelOther, path)
		v.end = p.i
		return v, ok
	case c == '[':
		v := jval{kind: jArray, start: p.i}
		ok := p.array(depth+1, path)
		v.end = p.i
		return v, ok
	case c == 't':
		return p.literal("true", jBool)
	case c == 'f':
		return p.literal("false", jBool)
	case c == 'n':
		return p.literal("null", jNull)
	case c == '-' || isDigit(c):
		return p.number()
	}
	return jval{}, p.failAt("unexpected character where a value should start")
}

func (p *parser) array(depth int, path string) bool {
	if depth > maxNesting {
		return p.fail("the message nests objects/arrays deeper than %d levels; events are flat (envelope and data)", maxNesting)
	}
	p.i++ // '['
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}
	path += "[]"
	for {
		p.ws()
		if _, ok := p.value(depth, path); !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.b) {
			return p.failAt("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return true
		default:
			return p.failAt("expected ',' or ']' in an array")
		}
	}
}

// keySet detects duplicate keys outside the contract (contract keys use the
// envSeen/dataSeen bit sets instead).
type keySet struct {
	list []string
	set  map[string]struct{}
}

func (s *keySet) add(k string) (dup bool) {
	if s.set != nil {
		if _, ok := s.set[k]; ok {
			return true
		}
		s.set[k] = struct{}{}
		return false
	}
	for _, x := range s.list {
		if x == k {
			return true
		}
	}
	s.list = append(s.list, k)
	if len(s.list) > 16 {
		s.set = make(map[string]struct{}, 2*len(s.list))
		for _, x := range s.list {
			s.set[x] = struct{}{}
		}
	}
	return false
}

func joinPath(path, key string) string {
	if path == "" {
		return safeName(key)
	}
	return path + "." + safeName(key)
}

func (p *parser) object(depth, level int, path string) bool {
	if depth > maxNesting {
		return p.fail("the message nests objects/arrays deeper than %d levels; events are flat (envelope and data)", maxNesting)
	}
	p.i++ // '{'
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	var others keySet
	var scratch [64]byte
	var slot int
	for {
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return p.failAt("expected a quoted key")
		}
		var name []byte
		if start, end, ok := p.quick(); ok {
			name = p.b[start:end]
		} else {
			kv, ok := p.str()
			if !ok {
				return false
			}
			name = p.b[kv.start:kv.end]
			if kv.esc {
				name, _ = unescape(scratch[:0], name)
			}
		}
		p.ws()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return p.failAt("expected ':' after a key")
		}
		p.i++
		p.ws()

		if p.syntaxOnly {
			if _, ok := p.value(depth, ""); !ok {
				return false
			}
			goto next
		}
		slot = -1
		switch level {
		case levelEnvelope:
			slot = envSlot(name)
		case levelData:
			slot = dataSlot(name)
		}
		if slot >= 0 {
			var seen *uint16
			var dst *jval
			if level == levelData {
				seen, dst = &p.dataSeen, &p.data[slot]
			} else {
				seen, dst = &p.envSeen, &p.env[slot]
			}
			if *seen&(1<<slot) != 0 {
				where := "the envelope"
				if level == levelData {
					where = "data"
				}
				return p.fail("key %q appears twice in %s; send each key once", string(name), where)
			}
			*seen |= 1 << slot
			if p.i >= len(p.b) {
				return p.failAt("a value is missing")
			}
			var ok bool
			switch c := p.b[p.i]; {
			case c == '"':
				var start, end int
				if start, end, ok = p.quick(); ok {
					dst.kind, dst.start, dst.end = jString, start, end
				} else {
					*dst, ok = p.str()
				}
			case c == '{' && level == levelEnvelope && slot == eData:
				dst.kind, dst.start = jObject, p.i
				ok = p.object(depth+1, levelData, "data")
				dst.end = p.i
			case c == '{' || c == '[':
				*dst, ok = p.value(depth, joinPath(path, string(name)))
			default:
				*dst, ok = p.value(depth, "")
			}
			if !ok {
				return false
			}
		} else {
			key := string(name)
			if others.add(key) {
				return p.fail("key %s appears twice in one object; send each key once", safeName(key))
			}
			if p.survPath == "" && !isContractName(name) {
				if term, bad := privacy.IsSurveillanceName(key); bad {
					p.survPath, p.survTerm = joinPath(path, key), term
				}
			}
			switch {
			case level == levelEnvelope && !p.hasUnknownEnv:
				p.hasUnknownEnv, p.unknownEnv = true, safeName(key)
			case level == levelData && !p.hasUnknownData:
				p.hasUnknownData, p.unknownData = true, safeName(key)
			}
			var child string
			if p.i < len(p.b) && (p.b[p.i] == '{' || p.b[p.i] == '[') {
				child = joinPath(path, key)
			}
			if _, ok := p.value(depth, child); !ok {
				return false
			}
		}
	next:
		p.ws()
		if p.i >= len(p.b) {
			return p.failAt("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return p.failAt("expected ',' or '}' in an object")
		}
	}
}

// simpleEscape decodes the one-character JSON escapes (\b \f \n \r \t \" \\ \/).
func simpleEscape(c byte) (byte, bool) {
	switch c {
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case '"', '\\', '/':
		return c, true
	}
	return 0, false
}

// unescape appends the decoded form of a JSON string body that str has
// validated. ok is false if the body held a \u escape of a lone UTF-16
// surrogate (decoded as U+FFFD).
func unescape(dst, s []byte) (out []byte, ok bool) {
	ok = true
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(s) {
			return dst, false
		}
		if c, ok := simpleEscape(s[i+1]); ok {
			dst = append(dst, c)
			i += 2
			continue
		}
		switch s[i+1] {
		case 'u':
			if i+6 > len(s) {
				return dst, false
			}
			r := hex4(s[i+2 : i+6])
			i += 6
			if r < 0 {
				ok = false
				r = utf8.RuneError
			} else if utf16.IsSurrogate(r) {
				if r < 0xDC00 && i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := hex4(s[i+2 : i+6]); r2 >= 0xDC00 && r2 < 0xE000 {
						dst = utf8.AppendRune(dst, utf16.DecodeRune(r, r2))
						i += 6
						continue
					}
				}
				ok = false
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // str validated the escapes, so nothing else occurs
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst, ok
}

// safeName renders a key or type name for a Rejection.Detail. Names are not
// values, but a producer might put an identifier in a key (a map keyed by
// user id, say), so a name is shown only if it looks like a field name:
// starts with a letter, only letters, digits, '_', '-', '.', at most two
// digits, at most 64 bytes.
func safeName(s string) string {
	if len(s) == 0 || len(s) > 64 {
		return "(a key not shown)"
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		case isDigit(c) && i > 0:
			digits++
		case (c == '_' || c == '-' || c == '.') && i > 0:
		default:
			return "(a key not shown)"
		}
	}
	if digits > 2 {
		return "(a key not shown)"
	}
	return s
}

// Decode validates msg against the event contract. If it is accepted Decode
// fills *ev (all fields except Partition and Offset, which it leaves as they
// were, for the caller) and returns nil. Otherwise it returns why, and *ev
// holds nothing of msg: an event is never half-accepted.
func (d *Decoder) Decode(msg []byte, ev *event.Event) *Rejection {
	part, off := ev.Partition, ev.Offset
	*ev = event.Event{Partition: part, Offset: off}
	r := d.decode(msg, ev)
	if r != nil {
		*ev = event.Event{Partition: part, Offset: off}
	}
	return r
}

func (d *Decoder) decode(msg []byte, ev *event.Event) *Rejection {
	if len(msg) > d.maxBytes {
		return reject(ReasonTooLarge, "the message is %d bytes, more than the limit of %d; send smaller events (an event is a few hundred bytes: no free text, attachments or nested payloads)", len(msg), d.maxBytes)
	}
	p := parser{b: msg}
	if !p.event() {
		return &Rejection{Reason: ReasonMalformedJSON, Detail: p.bad}
	}

	// Classify before checking values, in precedence order.
	spec := (*typeSpec)(nil)
	tv := p.env[eType]
	typeIsString := p.envSeen&(1<<eType) != 0 && tv.kind == jString
	if typeIsString {
		name, _ := p.bytes(tv)
		if i := typeIndex(name); i >= 0 {
			spec = &typeSpecs[i]
		} else if term, bad := privacy.IsSurveillanceName(string(name)); bad {
			return reject(ReasonSurveillanceType, "event type %s describes monitoring data (%q); Shoal accepts work outcomes, not activity or presence tracking: stop sending this type", safeName(string(name)), term)
		}
	}
	if p.survPath != "" {
		return reject(ReasonSurveillanceField, "field %s is monitoring data (%q); Shoal accepts work outcomes, not activity or presence tracking: remove the field at the source", p.survPath, p.survTerm)
	}
	if typeIsString && spec == nil {
		name, _ := p.bytes(tv)
		return reject(ReasonUnknownType, "event type %s is not accepted; send one of %s", safeName(string(name)), strings.Join(event.Types, ", "))
	}
	if p.hasUnknownEnv {
		return reject(ReasonUnknownField, "envelope attribute %s is not part of the contract; remove it (allowed: specversion, id, source, type, time, data, and optionally datacontenttype, subject, dataschema, shoalpseudonymized)", p.unknownEnv)
	}
	dataIsObject := p.envSeen&(1<<eData) != 0 && p.env[eData].kind == jObject
	if spec != nil && dataIsObject {
		if p.hasUnknownData {
			return reject(ReasonUnknownField, "data.%s is not a field of %s; remove it (allowed: %s)", p.unknownData, spec.name, fieldList(spec.allowed, ""))
		}
		if extra := p.dataSeen &^ spec.allowed; extra != 0 {
			return reject(ReasonUnknownField, "%s is not a field of %s; remove it (allowed: %s)", fieldList(extra, "data."), spec.name, fieldList(spec.allowed, ""))
		}
	}
	if p.envSeen&(1<<eUnmapped) != 0 && p.isTrue(p.env[eUnmapped]) {
		return &Rejection{Reason: ReasonUnmappedIdentity, Field: "data.person",
			Detail: "Shoal's intake took this activity from a source, but its person is not in the intake's people file (--people), which refuses unmapped identities (unmapped: refuse); add the identity to the person's identities in the people file and reload it, or set unmapped: own_person; the identity is not in the event"}
	}
	if missing := envRequired &^ p.envSeen; missing != 0 {
		var names []string
		for s := range nEnv {
			if missing&(1<<s) != 0 {
				names = append(names, envNames[s])
			}
		}
		return reject(ReasonMissingField, "the envelope is missing %s; every event needs specversion, id, source, type, time and data", strings.Join(names, ", "))
	}
	if spec != nil && dataIsObject {
		if missing := spec.required &^ p.dataSeen; missing != 0 {
			return reject(ReasonMissingField, "%s is missing %s; it needs %s", spec.name, fieldList(missing, "data."), fieldList(spec.required, ""))
		}
		// A correctable time entry names itself and its revision.
		if pair := p.dataSeen & bits(fEntry, fRevision); pair != 0 && pair != bits(fEntry, fRevision) {
			return reject(ReasonMissingField, "%s has %s without %s; send both (an entry its tracker can edit or delete) or neither",
				spec.name, fieldList(pair, "data."), fieldList(bits(fEntry, fRevision)&^pair, "data."))
		}
	}

	// Envelope values.
	if v := p.env[eSpecVersion]; v.kind != jString || !p.equals(v, event.SpecVersion) {
		return reject(ReasonBadValue, "specversion must be the string %q (CloudEvents 1.0)", event.SpecVersion)
	}
	// The event's strings are collected here and converted with one
	// allocation at the end (they live and die together in the Event).
	var id, source, team, task, request, entry []byte
	var rej *Rejection
	if id, rej = p.text(p.env[eID], "id", event.MaxIdentifierLen); rej != nil {
		return rej
	}
	if source, rej = p.text(p.env[eSource], "source", event.MaxIdentifierLen); rej != nil {
		return rej
	}
	if !typeIsString {
		return reject(ReasonBadValue, "type is %s; send the event type as a string, one of %s", tv.kind, strings.Join(event.Types, ", "))
	}
	ev.Type = spec.name
	if ev.Time, rej = p.timestamp(p.env[eTime], "time"); rej != nil {
		return rej
	}
	if rej = d.plausible(ev.Time, "time", d.ahead); rej != nil {
		return rej
	}
	if p.envSeen&(1<<eDataContentType) != 0 {
		if v := p.env[eDataContentType]; v.kind != jString || !p.equals(v, "application/json") {
			return reject(ReasonBadValue, `datacontenttype must be "application/json" when present; omit it or send that`)
		}
	}
	if p.envSeen&(1<<eSubject) != 0 {
		v := p.env[eSubject]
		if v.kind != jString {
			return reject(ReasonBadValue, "subject is %s; send a string or omit it", v.kind)
		}
		if b, _ := p.bytes(v); len(b) > 0 {
			if rej := identifierIn(b, "subject"); rej != nil {
				return rej
			}
		}
	}
	if p.envSeen&(1<<eDataSchema) != 0 && p.env[eDataSchema].kind != jString {
		return reject(ReasonBadValue, "dataschema is %s; send a string or omit it", p.env[eDataSchema].kind)
	}
	pseudonymized := false
	if p.envSeen&(1<<ePseudonymized) != 0 {
		v := p.env[ePseudonymized]
		if !p.isTrue(v) {
			return reject(ReasonBadValue, "shoalpseudonymized must be true when present (it marks data.person as already pseudonymized by Shoal's intake); omit it otherwise")
		}
		pseudonymized = true
	}
	if p.envSeen&(1<<eUnmapped) != 0 {
		// true was refused above, as unmapped_identity.
		return reject(ReasonBadValue, "shoalunmapped must be true when present (Shoal's intake sets it on an activity of a person its people file does not list); omit it")
	}
	if !dataIsObject {
		return reject(ReasonBadValue, "data is %s; send the event's fields as a JSON object", p.env[eData].kind)
	}

	// Data values, in contract order.
	if team, rej = p.text(p.data[fTeam], "data.team", event.MaxTeamLen); rej != nil {
		return rej
	}
	has := func(f int) bool { return p.dataSeen&(1<<f) != 0 }
	if has(fTask) {
		if task, rej = p.text(p.data[fTask], "data.task", event.MaxIdentifierLen); rej != nil {
			return rej
		}
	}
	if has(fRequest) {
		if request, rej = p.text(p.data[fRequest], "data.request", event.MaxIdentifierLen); rej != nil {
			return rej
		}
	}
	if has(fPerson) {
		v := p.data[fPerson]
		if v.kind != jString {
			return reject(ReasonBadValue, "data.person is %s; send the person's email or tool user id as a string", v.kind)
		}
		raw, ok := p.bytes(v)
		if problem := p.checkText(v, raw, ok, event.MaxIdentifierLen); problem != "" {
			return reject(ReasonBadValue, "data.person %s; send the person's email or tool user id", problem)
		}
		switch {
		case !pseudonymized:
			ev.Person = d.p.Pseudonym(string(raw))
		case privacy.IsPseudonym(string(raw)):
			// Pseudonymized at the edge (by the intake, with the same key).
			ev.Person = strings.ToLower(string(raw))
		default:
			return reject(ReasonBadValue, "data.person is marked as pseudonymized (shoalpseudonymized) but is not a pseudonym (p_ and 24 hex digits); send the raw id without shoalpseudonymized, and Shoal pseudonymizes it")
		}
	}
	if has(fDue) {
		v := p.data[fDue]
		if v.kind != jString {
			return reject(ReasonBadValue, "data.due is %s; send an RFC 3339 timestamp or a YYYY-MM-DD date as a string", v.kind)
		}
		b, _ := p.bytes(v)
		if len(b) == len("2006-01-02") {
			day, ok := parseDate(b)
			if !ok {
				return reject(ReasonBadTime, "data.due is not a valid YYYY-MM-DD date or RFC 3339 timestamp; send e.g. 2024-05-31 or 2024-05-31T17:00:00+02:00")
			}
			if rej := d.plausible(calendar.DayTime(day), "data.due", dueAhead); rej != nil {
				return rej
			}
			ev.DueDate, ev.HasDueDate = day, true
		} else {
			t, ok := parseTimestamp(b)
			if !ok {
				return reject(ReasonBadTime, "data.due is not a valid RFC 3339 timestamp or YYYY-MM-DD date; send e.g. 2024-05-31T17:00:00+02:00 or 2024-05-31")
			}
			if rej := d.plausible(t, "data.due", dueAhead); rej != nil {
				return rej
			}
			ev.DueAt = t
		}
	}
	if has(fEstimate) {
		v := p.data[fEstimate]
		if v.kind != jNumber {
			return reject(ReasonBadValue, "data.estimate_hours is %s; send a number of hours (0 or more)", v.kind)
		}
		f, err := strconv.ParseFloat(string(p.b[v.start:v.end]), 64)
		if err != nil {
			return reject(ReasonBadValue, "data.estimate_hours is out of range; send a number of hours (0 or more)")
		}
		if f < 0 {
			return reject(ReasonBadValue, "data.estimate_hours is negative; send a number of hours (0 or more) or omit it")
		}
		if f == 0 {
			f = 0 // not -0
		}
		ev.EstimateHours, ev.HasEstimate = f, true
	}
	if has(fKind) {
		if ev.Kind, rej = p.enum(p.data[fKind], "data.kind", spec.kinds); rej != nil {
			return rej
		}
	}
	day := ev.Time
	if spec.name == event.TimeLogged {
		if ev.Start, rej = p.timestamp(p.data[fStart], "data.start"); rej != nil {
			return rej
		}
		if ev.End, rej = p.timestamp(p.data[fEnd], "data.end"); rej != nil {
			return rej
		}
		if rej = d.plausible(ev.Start, "data.start", d.ahead); rej != nil {
			return rej
		}
		if rej = d.plausible(ev.End, "data.end", d.ahead); rej != nil {
			return rej
		}
		if ev.Category, rej = p.enum(p.data[fCategory], "data.category", event.Categories); rej != nil {
			return rej
		}
		if !ev.End.After(ev.Start) {
			return reject(ReasonEndBeforeStart, "data.end is not after data.start; send the entry with end after start")
		}
		if ev.End.Sub(ev.Start) > maxTimeEntry {
			return reject(ReasonBadValue, "the time entry is longer than 24 hours; split it into one entry per day")
		}
		day = ev.Start
	}
	if has(fEntry) {
		if entry, rej = p.text(p.data[fEntry], "data.entry", event.MaxIdentifierLen); rej != nil {
			return rej
		}
	}
	if has(fRevision) {
		if ev.Revision, rej = p.revision(p.data[fRevision]); rej != nil {
			return rej
		}
	}
	var sb strings.Builder
	sb.Grow(len(id) + len(source) + len(team))
	sb.Write(id)
	sb.Write(source)
	sb.Write(team)
	all := sb.String()
	ev.ID, all = all[:len(id)], all[len(id):]
	ev.Source, ev.Team = all[:len(source)], all[len(source):]
	if d.listed != nil && !d.listed(ev.Team) {
		return &Rejection{Reason: ReasonUnknownTeam, Field: "data.team",
			Detail: "data.team is not a team of the teams file; add the team to the file and reload (SIGHUP or POST /-/reload), or fix the producer's team id (Shoal runs with --unlisted-teams refuse)"}
	}
	// Task and request ids are stored keyed, so the store does not join
	// back to the tracker without the key.
	ev.Task, ev.Request, ev.Entry = d.p.TaskID(task), d.p.RequestID(request), d.p.EntryID(entry)
	var loc *time.Location
	if d.loc != nil {
		loc = d.loc(ev.Team)
	}
	if loc == nil || loc == time.UTC {
		// calendar.DayOf(day, time.UTC), without the calendar conversions.
		sec := day.Unix()
		if sec < 0 {
			sec -= 86400 - 1
		}
		ev.Day = int32(sec / 86400)
	} else {
		ev.Day = calendar.DayOf(day, loc)
	}
	return nil
}

// isTrue reports whether v is the JSON literal true.
func (p *parser) isTrue(v jval) bool {
	return v.kind == jBool && string(p.b[v.start:v.end]) == "true"
}

// bytes returns the decoded content of a string value (or the raw token of
// any other value). ok is false if a \u escape was a lone surrogate.
func (p *parser) bytes(v jval) (b []byte, ok bool) {
	b = p.b[v.start:v.end]
	if v.kind == jString && v.esc {
		return unescape(make([]byte, 0, len(b)), b)
	}
	return b, true
}

func (p *parser) equals(v jval, s string) bool {
	b, _ := p.bytes(v)
	return string(b) == s
}

// text checks a string field and returns its decoded bytes.
func (p *parser) text(v jval, name string, maxLen int) ([]byte, *Rejection) {
	if v.kind != jString {
		return nil, reject(ReasonBadValue, "%s is %s; send a string", name, v.kind)
	}
	b, ok := p.bytes(v)
	if problem := p.checkText(v, b, ok, maxLen); problem != "" {
		return nil, reject(ReasonBadValue, "%s %s; send a non-empty string of at most %d bytes of printable UTF-8", name, problem, maxLen)
	}
	if rej := identifierIn(b, name); rej != nil {
		return nil, rej
	}
	return b, nil
}

// identifierIn refuses the value b of the field name if it looks like it
// holds a person identifier. The detail names the field and the kind of
// identifier, never the value.
func identifierIn(b []byte, name string) *Rejection {
	kind, found := privacy.PersonIdentifierIn(b)
	if !found {
		return nil
	}
	return &Rejection{Reason: ReasonIdentifierInField, Field: name,
		Detail: fmt.Sprintf("%s holds what looks like %s; only data.person may identify a person (Shoal pseudonymizes it): send the tool's own id here (an issue key, a number, a URL without user names), never an e-mail address, user handle or phone number", name, kind)}
}

// checkText says what is wrong with the decoded string value b of v, or "".
// A string without escapes whose bytes str saw are all printable ASCII
// needs only the length and blank checks.
func (p *parser) checkText(v jval, b []byte, unicodeOK bool, maxLen int) string {
	if v.esc || v.high || len(b) == 0 || len(b) > maxLen {
		return checkText(b, unicodeOK, maxLen)
	}
	for _, c := range b {
		if c != ' ' {
			return ""
		}
	}
	return "is blank"
}

// checkText says what is wrong with a string field value, or "".
func checkText(b []byte, unicodeOK bool, maxLen int) string {
	if len(b) == 0 {
		return "is empty"
	}
	if len(b) > maxLen {
		return fmt.Sprintf("is longer than %d bytes", maxLen)
	}
	if !unicodeOK {
		return `contains a \u escape of a lone UTF-16 surrogate`
	}
	blank := true
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return "contains a control character"
			}
			if c != ' ' {
				blank = false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return "is not valid UTF-8"
		}
		if unicode.IsControl(r) {
			return "contains a control character"
		}
		if !unicode.IsSpace(r) {
			blank = false
		}
		i += n
	}
	if blank {
		return "is blank"
	}
	return ""
}

// revision reads data.revision: a JSON integer from 0 to 2^63-1, written
// as plain digits (no sign, fraction or exponent).
func (p *parser) revision(v jval) (int64, *Rejection) {
	const help = "send the entry's revision as a whole number from 0 up (a counter, or its updated-at time in Unix milliseconds)"
	if v.kind != jNumber {
		return 0, reject(ReasonBadValue, "data.revision is %s; %s", v.kind, help)
	}
	b := p.b[v.start:v.end]
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, reject(ReasonBadValue, "data.revision is not a whole number of 0 or more; %s", help)
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, reject(ReasonBadValue, "data.revision is larger than 2^63-1; %s", help)
	}
	return n, nil
}

// enum checks a string field against its allowed values and returns the
// matching constant (so accepted events share one string per value).
func (p *parser) enum(v jval, name string, allowed []string) (string, *Rejection) {
	if v.kind == jString {
		b, _ := p.bytes(v)
		for _, a := range allowed {
			if string(b) == a {
				return a, nil
			}
		}
	}
	return "", reject(ReasonBadValue, "%s is not one of the allowed values; send one of %s", name, strings.Join(allowed, ", "))
}

// timestamp checks an RFC 3339 field and returns it in UTC.
func (p *parser) timestamp(v jval, name string) (time.Time, *Rejection) {
	if v.kind != jString {
		return time.Time{}, reject(ReasonBadValue, "%s is %s; send an RFC 3339 timestamp string such as 2024-05-01T09:30:00Z", name, v.kind)
	}
	b, _ := p.bytes(v)
	t, ok := parseTimestamp(b)
	if !ok {
		return time.Time{}, reject(ReasonBadTime, "%s is not an RFC 3339 timestamp; send e.g. 2024-05-01T09:30:00Z or 2024-05-01T11:30:00+02:00", name)
	}
	return t, nil
}

func num(b []byte) int {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// civil parses YYYY-MM-DD.
func civil(b []byte) (y, m, d int, ok bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, 0, false
	}
	y, m, d = num(b[0:4]), num(b[5:7]), num(b[8:10])
	if y < 0 || m < 1 || m > 12 || d < 1 || d > daysIn(m, y) {
		return 0, 0, 0, false
	}
	return y, m, d, true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm): what event.DateOf computes, without
// building a time.Time.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDate parses a YYYY-MM-DD date as days since 1970-01-01.
func parseDate(b []byte) (int32, bool) {
	y, m, d, ok := civil(b)
	if !ok {
		return 0, false
	}
	return int32(daysFromCivil(y, m, d)), true
}

// parseTimestamp parses an RFC 3339 date-time (section 5.6: 'T' or 't',
// optional fraction of any length, 'Z', 'z' or a ±hh:mm offset) into UTC.
// Leap seconds (:60) are refused, as Go's time package cannot hold them.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") {
		return time.Time{}, false
	}
	y, mo, d, ok := civil(b[:10])
	if !ok || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	h, mi, s := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59 {
		return time.Time{}, false
	}
	i, ns := 19, 0
	if b[i] == '.' {
		i++
		digits := 0
		for i < len(b) && isDigit(b[i]) {
			if digits < 9 {
				ns = ns*10 + int(b[i]-'0')
			}
			digits++
			i++
		}
		if digits == 0 {
			return time.Time{}, false
		}
		for ; digits < 9; digits++ {
			ns *= 10
		}
	}
	if i >= len(b) {
		return time.Time{}, false
	}
	var offset int
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return time.Time{}, false
		}
		oh, om := num(b[i+1:i+3]), num(b[i+4:i+6])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, false
		}
		offset = (oh*60 + om) * 60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(b) {
		return time.Time{}, false
	}
	sec := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+s-offset)
	return time.Unix(sec, int64(ns)).UTC(), true
}
