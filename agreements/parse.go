package agreements

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/shoal-analytics/shoal/privacy"
)

// Keys of the teams file.
const (
	keyMinGroupSize = "min_group_size"
	keyDominanceP   = "dominance_p"
	keyMinContrib   = "min_contribution"
	keyFloorFlow    = "flow_tasks"
	keyFloorTime    = "time_logged"
	keyFloorAsync   = "async_requests"
	keyDefaults     = "defaults"
	keyUnits        = "units"
	keyTeams        = "teams"
	keyID           = "id"
	keyName         = "name"
	keyTimeZone     = "timezone"
	keyResponseSLA  = "response_sla"
	keyWorkingDays  = "working_days"
	keyFocusBlock   = "focus_block_min"
	keyOverwork     = "overwork_hours_per_day"
)

var (
	settingKeys = []string{keyTimeZone, keyResponseSLA, keyWorkingDays, keyFocusBlock, keyOverwork}
	topKeys     = []string{keyMinGroupSize, keyDominanceP, keyMinContrib, keyDefaults, keyUnits}
	floorKeys   = []string{keyFloorFlow, keyFloorTime, keyFloorAsync}
	// policyKeys are the privacy policy's keys: top level only.
	policyKeys = []string{keyMinGroupSize, keyDominanceP, keyMinContrib}
	unitKeys   = []string{keyID, keyName, keyDefaults, keyTeams}
	teamKeys   = append([]string{keyID, keyName}, settingKeys...)
)

// Hints for keys written at the wrong level.
var (
	topHints = hints(settingKeys, `put org-wide settings under "defaults"`,
		[]string{keyID, keyName, keyTeams}, `teams belong to a unit: list them under "units"`,
		floorKeys, `put contribution floors under "min_contribution"`)
	unitHints = hints(settingKeys, `put settings for all of the unit's teams under the unit's "defaults"`,
		[]string{keyUnits}, "this key belongs at the top of the file",
		policyKeys, "this key belongs at the top of the file: the privacy rules are the same for every team")
	teamHints = hints([]string{keyDefaults}, `a team sets its keys directly (e.g. response_sla: 8h), without "defaults"`,
		[]string{keyTeams, keyUnits}, "teams do not nest: list every team under its unit's teams",
		policyKeys, "this key belongs at the top of the file: the privacy rules are the same for every team")
	defaultsHints = hints([]string{keyID, keyName, keyTeams, keyUnits}, `"defaults" holds only settings`,
		policyKeys, "this key belongs at the top of the file: the privacy rules are the same for every team")
)

func hints(pairs ...any) map[string]string {
	m := make(map[string]string)
	for i := 0; i+1 < len(pairs); i += 2 {
		for _, k := range pairs[i].([]string) {
			m[k] = pairs[i+1].(string)
		}
	}
	return m
}

// Load reads and parses the teams file at path. See Parse.
func Load(path string) (*Org, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read teams file: %w (check --teams)", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a teams file; name is used in error messages.
// On any problem it returns nil and every problem found, joined with
// errors.Join (one *Error per line, in file order).
func Parse(name string, data []byte) (*Org, error) {
	if name == "" {
		name = "teams file"
	}
	p := &parser{file: name, data: data, zones: make(map[string]*time.Location)}
	var o *Org
	if root := p.document(data); root != nil {
		o = p.org(root)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return o, nil
}

type parser struct {
	file     string
	data     []byte // the file, for the line of a syntax error
	errs     []*Error
	zones    map[string]*time.Location // cache: many teams share a zone
	expanded int                       // values visited so far
	tooMany  bool                      // the alias budget is spent (reported once)
}

// maxExpanded bounds the values the walk visits. Aliases (*name) let a few
// lines stand for a huge tree; the budget keeps Parse fast. An org of 5 000
// teams with every key set visits about 105 000 (TestLargeOrg).
const maxExpanded = 500_000

// expand follows an alias and charges the node's children to the budget;
// false once the budget is spent.
func (p *parser) expand(n *yaml.Node, path string) (*yaml.Node, bool) {
	v := deref(n)
	if v == nil || v.Kind == yaml.AliasNode {
		return nil, false
	}
	p.expanded += 1 + len(v.Content)
	if p.expanded > maxExpanded {
		if !p.tooMany {
			p.tooMany = true
			p.add(n, path, ErrBadValue, "the file expands to more than %d values (aliases, *name, repeat what they point to); write the values out instead", maxExpanded)
		}
		return nil, false
	}
	return v, true
}

func (p *parser) add(n *yaml.Node, key string, kind error, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...), Kind: kind})
}

var yamlLineRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// document decodes data into a node tree and returns its root, or nil after
// recording the problem.
func (p *parser) document(data []byte) (root *yaml.Node) {
	defer func() {
		if r := recover(); r != nil { // yaml.v3 has panicked on odd input before
			p.errs = append(p.errs, &Error{File: p.file, Msg: fmt.Sprintf("the YAML parser failed (%v); check the file's syntax", r), Kind: ErrSyntax})
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.empty()
		} else {
			p.syntax(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.syntax(err)
		return nil
	default:
		p.add(&next, "", ErrSyntax, "a second YAML document starts here; keep one document (no ---) per teams file")
		return nil
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		p.empty()
		return nil
	}
	return doc.Content[0]
}

func (p *parser) empty() {
	p.add(nil, "", ErrEmpty, "the file is empty; list your units and teams (see docs/teams.example.yaml), or drop --teams to use the built-in defaults")
}

func (p *parser) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		// yaml.v3 numbers the lines of its parser's errors from 0 (it adds
		// 1 for scanner errors only): the construct it names starts a line
		// later.
		if strings.HasPrefix(msg, "did not find expected") {
			line++
		}
	}
	// A tab in the indentation is reported at the line before it (where
	// the scanner's context starts): name the line with the tab.
	if strings.Contains(msg, "tab character") {
		for i, l := range strings.Split(string(p.data), "\n") {
			if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
				line = i + 1
				break
			}
		}
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "invalid YAML: " + msg + "; check the indentation (spaces, not tabs), colons and quotes around values with special characters", Kind: ErrSyntax})
}

// deref follows aliases (*name) to the anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping (key: value lines)"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// entry is one key: value pair of a mapping.
type entry struct{ key, val *yaml.Node }

// fields checks that n is a mapping whose keys are all allowed and
// unrepeated, and returns its values by key. A null node is an empty
// mapping. what says what the mapping should hold, for the error message.
func (p *parser) fields(n *yaml.Node, path, what string, allowed []string, hint map[string]string) (map[string]entry, bool) {
	out := make(map[string]entry)
	if isNull(n) {
		return out, true
	}
	m, ok := p.expand(n, path)
	if !ok {
		return nil, false
	}
	if m.Kind != yaml.MappingNode {
		p.add(n, path, ErrBadValue, "must be %s, got %s", what, describe(n))
		return nil, false
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.add(k, path, ErrUnknownKey, "keys must be plain words, got %s; allowed here: %s", describe(k), strings.Join(allowed, ", "))
			continue
		}
		kpath := join(path, k.Value)
		if k.ShortTag() == "!!merge" {
			p.add(k, kpath, ErrUnknownKey, `YAML merge keys (<<) are not supported; write the keys out, or share settings through "defaults"`)
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.add(k, kpath, ErrUnknownKey, "%s", unknownKey(k.Value, allowed, hint))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			p.add(k, kpath, ErrDuplicateKey, "repeats the key of line %d; keep one of them", prev.key.Line)
			continue
		}
		out[k.Value] = entry{k, v}
	}
	return out, true
}

func unknownKey(key string, allowed []string, hint map[string]string) string {
	var b strings.Builder
	b.WriteString("unknown key")
	if h, ok := hint[key]; ok {
		b.WriteString(" here; " + h)
	} else if s := closest(key, allowed); s != "" {
		fmt.Fprintf(&b, "; did you mean %s?", s)
	}
	b.WriteString(" (allowed here: " + strings.Join(allowed, ", ") + ")")
	return b.String()
}

// scalar returns the text of a scalar value, recording an error for a
// missing, empty, list or mapping value; example completes "write e.g. ...".
func (p *parser) scalar(n *yaml.Node, path, example string) (string, bool) {
	v := deref(n)
	switch {
	case isNull(v):
		p.add(n, path, ErrBadValue, "is empty; write e.g. %s, or remove the key", example)
		return "", false
	case v.Kind != yaml.ScalarNode:
		p.add(n, path, ErrBadValue, "must be a single value, got %s; write e.g. %s", describe(v), example)
		return "", false
	}
	return v.Value, true
}

func (p *parser) minGroupSize(n *yaml.Node) (int, bool) {
	const key = keyMinGroupSize
	s, ok := p.scalar(n, key, strconv.Itoa(privacy.DefaultMinGroupSize))
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(s)
	if err != nil {
		p.add(n, key, ErrBadValue, "%q is not a whole number; write e.g. %d (the default)", s, privacy.DefaultMinGroupSize)
		return 0, false
	}
	if _, err := privacy.NewPolicy(k, privacy.DefaultDominanceP); err != nil {
		p.add(n, key, privacy.ErrMinGroupSize, "%d is below the floor of %d: a cell built from fewer people lets a reader single one person out; set %d or more (default %d)",
			k, privacy.FloorMinGroupSize, privacy.FloorMinGroupSize, privacy.DefaultMinGroupSize)
		return 0, false
	}
	return k, true
}

func (p *parser) dominanceP(n *yaml.Node) (float64, bool) {
	const key = keyDominanceP
	s, ok := p.scalar(n, key, fmt.Sprint(privacy.DefaultDominanceP))
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "%"), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		p.add(n, key, ErrBadValue, "%q is not a number; write a percentage such as %g (the default)", s, privacy.DefaultDominanceP)
		return 0, false
	}
	switch {
	case v < privacy.FloorDominanceP:
		p.add(n, key, privacy.ErrDominanceP, "%g is below the floor of %g: the rule would let the second-largest contributor estimate the largest to within less than %g %%, which protects nobody; set %g to %g (default %g)",
			v, privacy.FloorDominanceP, privacy.FloorDominanceP, privacy.FloorDominanceP, privacy.MaxDominanceP, privacy.DefaultDominanceP)
		return 0, false
	case v > privacy.MaxDominanceP:
		p.add(n, key, privacy.ErrDominanceP, "%g is above %g: it is a percentage of the largest contribution; set %g to %g (default %g)",
			v, privacy.MaxDominanceP, privacy.FloorDominanceP, privacy.MaxDominanceP, privacy.DefaultDominanceP)
		return 0, false
	}
	return v, true
}

// floors reads the min_contribution block; a key it leaves out keeps its
// default.
func (p *parser) floors(n *yaml.Node) privacy.Floors {
	out := privacy.DefaultFloors()
	f, ok := p.fields(n, keyMinContrib, "a mapping of contribution floors ("+strings.Join(floorKeys, ", ")+")", floorKeys, nil)
	if !ok {
		return out
	}
	if e, ok := f[keyFloorFlow]; ok {
		out.FlowTasks, _ = p.floorCount(e.val, join(keyMinContrib, keyFloorFlow), privacy.DefaultFloorFlowTasks, "tasks started plus tasks completed")
	}
	if e, ok := f[keyFloorTime]; ok {
		out.TimeLogged = p.duration(e.val, join(keyMinContrib, keyFloorTime), privacy.MaxFloorTimeLogged)
	}
	if e, ok := f[keyFloorAsync]; ok {
		out.AsyncRequests, _ = p.floorCount(e.val, join(keyMinContrib, keyFloorAsync), privacy.DefaultFloorAsyncRequests, "requests opened plus requests answered")
	}
	return out
}

// floorCount parses a whole-number floor of 1 to privacy.MaxFloorEvents.
func (p *parser) floorCount(n *yaml.Node, path string, def int, what string) (int, bool) {
	s, ok := p.scalar(n, path, strconv.Itoa(def))
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	switch {
	case err != nil:
		p.add(n, path, ErrBadValue, "%q is not a whole number; write e.g. %d (the default: %s)", s, def, what)
	case v < 1:
		p.add(n, path, ErrBadValue, "%d would count people who did nothing in the family (presence, not contribution); write 1 or more (default %d)", v, def)
	case v > privacy.MaxFloorEvents:
		p.add(n, path, ErrBadValue, "%d is more than anyone does in a day; write at most %d (default %d)", v, privacy.MaxFloorEvents, def)
	default:
		return v, true
	}
	return 0, false
}

// settings is one level of the resolution chain; zero fields are unset
// (every valid duration is positive).
type settings struct {
	tz                   string
	loc                  *time.Location
	sla, focus, overwork time.Duration
	days                 [7]bool
	daysSet              bool
}

func (s *settings) apply(a *Agreement) {
	if s.loc != nil {
		a.Location, a.TimeZone = s.loc, s.tz
	}
	if s.sla > 0 {
		a.ResponseSLA = s.sla
	}
	if s.daysSet {
		a.WorkingDays = s.days
	}
	if s.focus > 0 {
		a.FocusBlockMin = s.focus
	}
	if s.overwork > 0 {
		a.OverworkPerDay = s.overwork
	}
}

// settings reads the setting keys present in f.
func (p *parser) settings(f map[string]entry, path string) settings {
	var s settings
	if e, ok := f[keyTimeZone]; ok {
		s.tz, s.loc = p.timeZone(e.val, join(path, keyTimeZone))
	}
	if e, ok := f[keyResponseSLA]; ok {
		s.sla = p.duration(e.val, join(path, keyResponseSLA), 0)
	}
	if e, ok := f[keyWorkingDays]; ok {
		s.days, s.daysSet = p.workingDays(e.val, join(path, keyWorkingDays))
	}
	if e, ok := f[keyFocusBlock]; ok {
		s.focus = p.duration(e.val, join(path, keyFocusBlock), 24*time.Hour)
	}
	if e, ok := f[keyOverwork]; ok {
		s.overwork = p.duration(e.val, join(path, keyOverwork), 24*time.Hour)
	}
	return s
}

// defaults reads a defaults block (org or unit).
func (p *parser) defaults(n *yaml.Node, path string) settings {
	f, ok := p.fields(n, path, "a mapping of settings ("+strings.Join(settingKeys, ", ")+")", settingKeys, defaultsHints)
	if !ok {
		return settings{}
	}
	return p.settings(f, path)
}

const zoneExample = "Europe/Berlin, America/New_York or UTC"

func (p *parser) timeZone(n *yaml.Node, path string) (string, *time.Location) {
	name, ok := p.scalar(n, path, zoneExample)
	if !ok {
		return "", nil
	}
	if loc, ok := p.zones[name]; ok {
		return name, loc
	}
	if name == "" || name == "Local" { // Local is the host's zone, not the team's
		p.add(n, path, ErrBadTimeZone, "%q is not a time zone; write an IANA name such as %s", name, zoneExample)
		return "", nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		p.add(n, path, ErrBadTimeZone, "%q is not a time zone; write an IANA name such as %s (names are case-sensitive)", name, zoneExample)
		return "", nil
	}
	p.zones[name] = loc
	return name, loc
}

const durationExample = "24h, 90m or 2d"

// duration parses a positive duration, at most limit when limit > 0.
func (p *parser) duration(n *yaml.Node, path string, limit time.Duration) time.Duration {
	s, ok := p.scalar(n, path, durationExample)
	if !ok {
		return 0
	}
	d, err := parseDuration(s)
	switch {
	case errors.Is(err, errTooLong):
		p.add(n, path, ErrBadDuration, "%q is too long; write at most %dd", s, maxDays)
	case err != nil:
		p.add(n, path, ErrBadDuration, "%q is not a duration; write e.g. %s", s, durationExample)
	case d <= 0:
		p.add(n, path, ErrBadDuration, "%q must be longer than zero; write e.g. %s", s, durationExample)
	case limit > 0 && d > limit:
		p.add(n, path, ErrBadDuration, "%q is longer than a day; write at most 24h", s)
	default:
		return d
	}
	return 0
}

const daysHelp = "write Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a range such as Mon-Fri"

func (p *parser) workingDays(n *yaml.Node, path string) ([7]bool, bool) {
	var set [7]bool
	v, ok := p.expand(n, path)
	if !ok {
		return set, false
	}
	switch {
	case isNull(v) || v.Kind == yaml.SequenceNode && len(v.Content) == 0 ||
		v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) == "":
		p.add(n, path, ErrBadWorkingDays, "is empty; list at least one working day, e.g. [Mon, Tue, Wed, Thu, Fri] or Mon-Fri")
		return set, false
	case v.Kind == yaml.ScalarNode: // "Mon-Fri" or "Mon, Wed, Fri"
		for part := range strings.SplitSeq(v.Value, ",") {
			if !parseDays(strings.TrimSpace(part), &set) {
				p.add(n, path, ErrBadWorkingDays, "%q is not a weekday or a range of weekdays; %s", strings.TrimSpace(part), daysHelp)
				ok = false
			}
		}
	case v.Kind == yaml.SequenceNode:
		for i, item := range v.Content {
			ipath := fmt.Sprintf("%s[%d]", path, i)
			s, isScalar := p.scalar(item, ipath, "Mon")
			if !isScalar {
				ok = false
				continue
			}
			if !parseDays(strings.TrimSpace(s), &set) {
				p.add(item, ipath, ErrBadWorkingDays, "%q is not a weekday or a range of weekdays; %s", s, daysHelp)
				ok = false
			}
		}
	default:
		p.add(n, path, ErrBadWorkingDays, "must be a list of weekdays such as [Mon, Tue, Wed, Thu, Fri] or a range such as Mon-Fri, got %s", describe(v))
		return set, false
	}
	return set, ok
}

// id reads a team or unit id; what is "team" or "unit".
func (p *parser) id(f map[string]entry, mapping *yaml.Node, path, what, name string) (string, *yaml.Node, bool) {
	ipath := join(path, keyID)
	example := suggestID(name)
	if example == "" {
		example = map[string]string{"team": "payments", "unit": "platform"}[what]
	}
	e, ok := f[keyID]
	if !ok {
		p.add(mapping, ipath, ErrBadID, "missing; every %s needs an id, e.g. id: %s", what, example)
		return "", nil, false
	}
	v := deref(e.val)
	if isNull(v) || v.Kind == yaml.ScalarNode && v.Value == "" {
		p.add(e.val, ipath, ErrBadID, "is empty; every %s needs an id, e.g. id: %s", what, example)
		return "", nil, false
	}
	if v.Kind != yaml.ScalarNode {
		p.add(e.val, ipath, ErrBadID, "must be a single word, got %s; write e.g. id: %s", describe(v), example)
		return "", nil, false
	}
	if !validID(v.Value) {
		if s := suggestID(v.Value); s != "" {
			example = s
		}
		p.add(e.val, ipath, ErrBadID, "%q is not a valid id; use up to 128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, e.g. %s", v.Value, example)
		return "", nil, false
	}
	return v.Value, e.val, true
}

// name reads an optional display name.
func (p *parser) name(f map[string]entry, path string) string {
	e, ok := f[keyName]
	if !ok || isNull(e.val) {
		return ""
	}
	s, _ := p.scalar(e.val, join(path, keyName), "Payments")
	return s
}

// seen remembers where an id was first listed, to report duplicates.
type seen struct {
	line int
	path string
}

func (p *parser) org(root *yaml.Node) *Org {
	f, ok := p.fields(root, "", "a mapping with "+strings.Join(topKeys, ", "), topKeys, topHints)
	if !ok {
		return nil
	}
	k := privacy.DefaultMinGroupSize
	if e, ok := f[keyMinGroupSize]; ok {
		k, _ = p.minGroupSize(e.val)
	}
	dp := privacy.DefaultDominanceP
	if e, ok := f[keyDominanceP]; ok {
		dp, _ = p.dominanceP(e.val)
	}
	floors := privacy.DefaultFloors()
	if e, ok := f[keyMinContrib]; ok {
		floors = p.floors(e.val)
	}
	base := builtin()
	if e, ok := f[keyDefaults]; ok {
		s := p.defaults(e.val, keyDefaults)
		s.apply(&base)
	}
	o := &Org{source: p.file, k: k, floors: floors, defaults: base, index: make(map[string]int)}
	if e, ok := f[keyUnits]; ok {
		p.units(e.val, o)
	}
	o.policy, _ = privacy.NewPolicy(k, dp) // an error is already recorded
	return o
}

func (p *parser) units(n *yaml.Node, o *Org) {
	if isNull(n) {
		return
	}
	list, ok := p.expand(n, keyUnits)
	if !ok {
		return
	}
	if list.Kind != yaml.SequenceNode {
		p.add(n, keyUnits, ErrBadValue, "must be a list of units (lines starting with \"- id: ...\"), got %s", describe(list))
		return
	}
	unitSeen := make(map[string]seen)
	teamSeen := make(map[string]seen)
	for i, un := range list.Content {
		path := fmt.Sprintf("%s[%d]", keyUnits, i)
		f, ok := p.fields(un, path, "a unit (id, name, defaults, teams)", unitKeys, unitHints)
		if !ok {
			continue
		}
		name := p.name(f, path)
		id, idNode, ok := p.id(f, deref(un), path, "unit", name)
		if ok {
			switch prev, dup := unitSeen[id]; {
			case dup:
				p.add(idNode, join(path, keyID), ErrDuplicateID, "unit %q is already listed at line %d (%s); give each unit its own id, or merge their teams into one", id, prev.line, prev.path)
			case id == UnassignedUnit:
				p.add(idNode, join(path, keyID), ErrBadID, "%q is reserved for teams the file does not list; choose another id", id)
			default:
				unitSeen[id] = seen{idNode.Line, path}
			}
		}
		if name == "" {
			name = id
		}
		unit := Unit{ID: id, Name: name}
		ubase := o.defaults
		ubase.Unit, ubase.UnitName = id, name
		if e, ok := f[keyDefaults]; ok {
			s := p.defaults(e.val, join(path, keyDefaults))
			s.apply(&ubase)
		}
		if e, ok := f[keyTeams]; ok {
			unit.Teams = p.teams(e.val, join(path, keyTeams), ubase, o, teamSeen)
		}
		o.units = append(o.units, unit)
	}
}

func (p *parser) teams(n *yaml.Node, path string, base Agreement, o *Org, teamSeen map[string]seen) []string {
	if isNull(n) {
		return nil
	}
	list, ok := p.expand(n, path)
	if !ok {
		return nil
	}
	if list.Kind != yaml.SequenceNode {
		p.add(n, path, ErrBadValue, "must be a list of teams (lines starting with \"- id: ...\"), got %s", describe(list))
		return nil
	}
	var ids []string
	for i, tn := range list.Content {
		tpath := fmt.Sprintf("%s[%d]", path, i)
		f, ok := p.fields(tn, tpath, "a team (id, name and settings)", teamKeys, teamHints)
		if !ok {
			continue
		}
		name := p.name(f, tpath)
		id, idNode, idOK := p.id(f, deref(tn), tpath, "team", name)
		if idOK {
			if prev, dup := teamSeen[id]; dup {
				p.add(idNode, join(tpath, keyID), ErrDuplicateID, "team %q is already listed at line %d (%s); a team belongs to exactly one unit: remove one of them", id, prev.line, prev.path)
				idOK = false
			} else {
				teamSeen[id] = seen{idNode.Line, tpath}
			}
		}
		s := p.settings(f, tpath)
		if !idOK {
			continue
		}
		if name == "" {
			name = id
		}
		a := base
		a.Team, a.TeamName, a.Listed = id, name, true
		s.apply(&a)
		o.index[id] = len(o.teams)
		o.teams = append(o.teams, a)
		ids = append(ids, id)
	}
	return ids
}
