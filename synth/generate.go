package synth

import (
	"math"
	"strconv"
	"strings"

	"github.com/shoal-analytics/shoal/event"
)

// Message is one Kafka message: Key is the team id (nil when the value
// has no readable data.team), Value the CloudEvents JSON. Bad is "" for a
// valid event, else the rejection reason the pipeline must give it.
type Message struct {
	Key, Value []byte
	Bad        string
}

// Generate returns the organisation and its events in publish order. The
// output is a pure function of opts after WithDefaults (set End for
// reproducible bytes). It panics if opts.WithDefaults().Validate() fails;
// use GenerateTo to get the error instead.
func Generate(opts Options) (*Org, []Message) {
	var msgs []Message
	org, err := GenerateTo(opts, func(m Message) error {
		msgs = append(msgs, m)
		return nil
	})
	if err != nil {
		panic("synth.Generate: " + err.Error())
	}
	return org, msgs
}

// GenerateTo streams the events of Generate(opts) to fn in publish order,
// holding only the events still in flight (about ten days' worth), so it
// scales to tens of millions of events. fn may keep the Message: its
// slices are never reused. GenerateTo stops at the first error from fn
// and returns it.
func GenerateTo(opts Options, fn func(Message) error) (*Org, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := newGen(opts, fn)
	if err := g.run(); err != nil {
		return g.org, err
	}
	return g.org, nil
}

// Event-type indexes: positions in event.Types.
const (
	tCreated uint8 = iota
	tStarted
	tCompleted
	tBlocked
	tUnblocked
	tReopened
	tCancelled
	tTime
	tReqOpened
	tReqResponded
)

const (
	minute = 60
	hour   = 3600
	day    = 86400

	// maxLate bounds publish time minus event time for every message.
	maxLate = 10 * day
)

// timeStyle is how a source writes timestamps.
type timeStyle uint8

const (
	styleUTC       timeStyle = iota // 2025-03-04T08:15:00Z
	styleUTCMillis                  // 2025-03-04T08:15:00.000Z
	styleLocal                      // 2025-03-04T09:15:00+01:00 (the team's offset)
)

// idStyle is how a source numbers its events.
type idStyle uint8

const (
	idNumeric idStyle = iota // 100001, 100002, ... (several tools: ids collide across sources)
	idObject                 // 24 hex digits
	idSlack                  // Ev0 + base36
)

// source is one tool that emits events; ids are unique per source.
type source struct {
	url   string
	style timeStyle
	ids   idStyle
	next  uint64
}

func (s *source) appendNextID(b []byte) []byte {
	s.next++
	switch s.ids {
	case idObject:
		h := strconv.FormatUint(0x65f0a1000000+s.next*7919, 16)
		b = append(b, "66"...)
		for range 22 - len(h) {
			b = append(b, '0')
		}
		return append(b, h...)
	case idSlack:
		b = append(b, "Ev0"...)
		return append(b, strings.ToUpper(strconv.FormatUint(1<<40+s.next*104729, 36))...)
	default:
		return strconv.AppendUint(b, 100000+s.next, 10)
	}
}

// Sources of the synthetic tools.
const (
	SourceJira     = "https://jira.acme.example"
	SourceClickUp  = "https://clickup.acme.example"
	SourceGitHub   = "https://github.com/acme"
	SourceToggl    = "https://toggl.acme.example"
	SourceClockify = "https://clockify.acme.example"
	SourceSlack    = "https://slack.acme.example"
)

// ev is one event before encoding.
type ev struct {
	typ      uint8
	variant  uint8 // which flavour of a bad event
	src      *source
	team     *simTeam
	at       int64 // unix seconds
	start    int64
	end      int64
	est      float64 // 0: absent
	task     string
	request  string
	person   string
	kind     string
	category string
	due      string
}

// pending is an event waiting in the publish queue.
type pending struct {
	pub int64 // publish time, unix seconds
	seq uint64
	ev  ev
	bad string
	dup bool   // re-send once after publishing
	raw []byte // already encoded (a re-send)
	key []byte
}

type simPerson struct{ id, alias string }

// simTeam is a team plus its working habits.
type simTeam struct {
	idx         int
	id          string
	z           zone
	people      []simPerson
	taskSrc     *source
	timeSrc     *source
	taskKey     string // Jira project key
	repo        string // GitHub repository
	channel     string // Slack channel id
	startHour   int64  // start of the working day, seconds after local midnight
	lateEvening bool
	weekend     bool
	taskRate    float64 // new tasks per person per working day
	reqRate     float64 // requests per person per working day
	nTask       int
	nReq        int
	recent      []string // tasks recently started, for time entries
}

type gen struct {
	o          Options
	r          *rng
	org        *Org
	teams      []*simTeam
	start, end int64
	fn         func(Message) error

	jira, clickup, github, toggl, clockify, slack *source

	queue   []*pending // min-heap on (pub, seq)
	seq     uint64
	lastPub int64
	free    []*pending
	buf     []byte
	slab    []byte
	ents    []entry
}

func newGen(o Options, fn func(Message) error) *gen {
	g := &gen{
		o:        o,
		r:        newRNG(o.Seed, 1),
		fn:       fn,
		end:      o.End.Unix(),
		jira:     &source{url: SourceJira, style: styleUTC},
		clickup:  &source{url: SourceClickUp, style: styleUTCMillis},
		github:   &source{url: SourceGitHub, style: styleUTC},
		toggl:    &source{url: SourceToggl, style: styleLocal},
		clockify: &source{url: SourceClockify, style: styleUTC, ids: idObject},
		slack:    &source{url: SourceSlack, style: styleLocal, ids: idSlack},
	}
	g.start = g.end - int64(o.Weeks)*7*day
	g.org = buildOrg(o, newRNG(o.Seed, 2))
	r := newRNG(o.Seed, 3)
	keys := map[string]bool{}
	for _, t := range g.org.Teams {
		st := &simTeam{idx: len(g.teams), id: t.ID, z: zone{loc: g.org.locs[t.ID]}}
		for _, p := range t.People {
			st.people = append(st.people, simPerson{id: p, alias: g.org.aliases[p]})
		}
		switch x := r.float(); {
		case x < 0.6:
			st.taskSrc = g.jira
		case x < 0.85:
			st.taskSrc = g.clickup
		default:
			st.taskSrc = g.github
		}
		st.timeSrc = g.toggl
		if r.chance(0.3) {
			st.timeSrc = g.clockify
		}
		name := strings.TrimPrefix(t.ID, t.Unit+"-")
		st.repo = name
		key := strings.ToUpper(strings.ReplaceAll(name, "-", ""))
		key = key[:min(len(key), 4)]
		for n := 2; keys[key]; n++ {
			key = key[:min(len(key), 3)] + strconv.Itoa(n)
		}
		keys[key] = true
		st.taskKey = key
		st.channel = "C07" + strings.ToUpper(strconv.FormatUint(uint64(len(g.teams))*7877+36*36*36*36, 36))
		st.startHour = int64(7*hour + r.intn(13)*15*minute) // 07:00..10:00
		st.lateEvening = r.chance(0.25)
		st.weekend = r.chance(0.2)
		st.taskRate = 0.3 + 0.3*r.float()
		st.reqRate = 0.7 + 0.5*r.float()
		g.teams = append(g.teams, st)
	}
	return g
}

// run simulates day by day. Everything simulated for local date D happens
// at or after local midnight of D, which is never earlier than UTC
// midnight of D minus 14 hours; so before simulating D the queue can
// publish every event due before that instant.
func (g *gen) run() error {
	first := floorDiv(g.start, day) - 15 // warm-up: work in flight when the window opens
	last := floorDiv(g.end-1, day) + 1
	timeFrom := floorDiv(g.start, day) - 1
	for d := first; d <= last; d++ {
		if err := g.flush(d*day - 14*hour); err != nil {
			return err
		}
		for _, t := range g.teams {
			g.simulate(t, d, d >= timeFrom)
		}
	}
	return g.flush(math.MaxInt64)
}

func weekday(d int64) int { return int((d%7 + 7 + 4) % 7) } // 0 = Sunday; 1970-01-01 was a Thursday

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// simulate one local day d (days since epoch) of team t.
func (g *gen) simulate(t *simTeam, d int64, withTime bool) {
	r := g.r
	base := d * day // civil seconds of local midnight
	wd := weekday(d)
	if wd >= 1 && wd <= 5 {
		for range r.poisson(float64(len(t.people)) * t.taskRate) {
			g.task(t, t.z.unix(base+t.startHour+r.between(0, 8*hour)))
		}
		for i := range t.people {
			for range r.poisson(t.reqRate) {
				g.request(t, i, t.z.unix(base+t.startHour+r.between(0, 8*hour+30*minute)))
			}
			if withTime && !r.chance(0.05) {
				g.workday(t, i, base)
			}
			if withTime && t.lateEvening && r.chance(0.1) {
				g.evening(t, i, base)
			}
		}
		return
	}
	if !t.weekend {
		return
	}
	for i := range t.people {
		if withTime && r.chance(0.08) {
			g.weekendWork(t, i, base)
		}
		if r.chance(0.03) {
			g.request(t, i, t.z.unix(base+10*hour+r.between(0, 8*hour)))
		}
	}
}

// person returns the raw id of team member i as src spells it.
func (t *simTeam) person(i int, src *source) string {
	p := t.people[i]
	if p.alias != "" && src.url == SourceSlack {
		return p.alias
	}
	return p.id
}

// other returns a team member other than i.
func (g *gen) other(t *simTeam, i int) int {
	j := g.r.intn(len(t.people) - 1)
	if j >= i {
		j++
	}
	return j
}

// snap moves u forward into the team's working hours on a working day.
func (g *gen) snap(t *simTeam, u int64) int64 {
	c := t.z.civil(u)
	d := floorDiv(c, day)
	sec := c - d*day
	stop := int64(18*hour + 30*minute)
	if t.lateEvening {
		stop = 23 * hour
	}
	wd := weekday(d)
	weekendOK := t.weekend && g.r.chance(0.1)
	switch {
	case (wd == 0 || wd == 6) && !weekendOK, sec >= stop:
		d++
		for wd = weekday(d); wd == 0 || wd == 6; wd = weekday(d) {
			d++
		}
		c = d*day + t.startHour + g.r.between(0, 2*hour)
	case sec < t.startHour-hour:
		c = d*day + t.startHour + g.r.between(0, hour)
	default:
		return u
	}
	return t.z.unix(c)
}

func (g *gen) later(t *simTeam, u, lo, hi int64) int64 { return g.snap(t, u+g.r.between(lo, hi)) }

var (
	taskKindWeights = []int{45, 30, 20, 5} // event.TaskKinds
	estimates       = []float64{0.5, 1, 2, 3, 5, 8, 13}
)

// task creates one task at unix time at and plays its whole life.
func (g *gen) task(t *simTeam, at int64) {
	r := g.r
	t.nTask++
	var id string
	switch t.taskSrc {
	case g.clickup:
		id = "86" + strconv.FormatUint(uint64(t.idx+1)*1e7+uint64(t.nTask), 36)
	case g.github:
		id = "acme/" + t.repo + "#" + strconv.Itoa(t.nTask)
	default:
		id = t.taskKey + "-" + strconv.Itoa(t.nTask)
	}
	n := len(t.people)
	created := ev{typ: tCreated, src: t.taskSrc, team: t, at: at, task: id}
	if r.chance(0.85) {
		created.person = t.person(r.intn(n), t.taskSrc)
	}
	if r.chance(0.9) {
		created.kind = event.TaskKinds[r.pick(taskKindWeights)]
	}
	if r.chance(0.55) {
		created.est = estimates[r.intn(len(estimates))]
	}
	if r.chance(0.45) {
		dueDay := floorDiv(t.z.civil(at), day) + r.between(1, 15)
		if r.chance(0.5) {
			created.due = string(appendDate(nil, dueDay))
		} else {
			created.due = string(appendTime(nil, t.z.unix(dueDay*day+17*hour), t.taskSrc.style, &t.z))
		}
	}
	mk := func(typ uint8, at int64, person int) ev {
		e := ev{typ: typ, src: t.taskSrc, team: t, at: at, task: id}
		if person >= 0 {
			e.person = t.person(person, t.taskSrc)
		}
		return e
	}

	if r.chance(0.08) { // backlog: never started
		if r.chance(0.5) {
			g.push(mk(tCancelled, g.later(t, at, day, 20*day), -1))
		}
		g.push(created)
		return
	}
	who := r.intn(n)
	var started int64
	switch x := r.float(); {
	case x < 0.4:
		started = g.later(t, at, 5*minute, 3*hour)
	case x < 0.8:
		started = g.later(t, at, 3*hour, 2*day)
	default:
		started = g.later(t, at, 2*day, 10*day)
	}
	g.push(mk(tStarted, started, who))
	t.recent = append(t.recent, id)
	if len(t.recent) > 24 {
		t.recent = t.recent[1:]
	}
	if r.chance(0.04) { // handed over: started again by someone else
		who = g.other(t, who)
		g.push(mk(tStarted, g.later(t, started, hour, 2*day), who))
	}
	switch x := r.float(); {
	case x < 0.04: // cancelled after start
		g.push(mk(tCancelled, g.later(t, started, hour, 10*day), -1))
		g.push(created)
		return
	case x < 0.14: // stalls: work in progress forever, sometimes blocked
		if r.chance(0.4) {
			g.push(mk(tBlocked, g.later(t, started, hour, 5*day), -1))
		}
		g.push(created)
		return
	}
	cycle := int64(math.Exp(math.Log(6*hour) + 1.1*r.norm()))
	cycle = min(max(cycle, 20*minute), 25*day)
	completed := g.snap(t, started+cycle)
	if r.chance(0.15) {
		blocked := g.snap(t, started+int64(float64(completed-started)*(0.1+0.6*r.float())))
		g.push(mk(tBlocked, blocked, -1))
		unblocked := g.later(t, blocked, hour, 3*day)
		g.push(mk(tUnblocked, unblocked, -1))
		if unblocked >= completed {
			completed = g.later(t, unblocked, hour, day)
		}
	}
	if t.lateEvening && r.chance(0.15) { // finished late at night, either side of local midnight
		d := floorDiv(t.z.civil(completed), day)
		c := d*day + 23*hour + r.between(0, hour-1)
		if r.chance(0.5) {
			c += hour
		}
		completed = max(completed, t.z.unix(c))
	}
	g.push(mk(tCompleted, completed, who))
	final := completed
	if r.chance(0.08) {
		reopened := g.later(t, completed, hour, 5*day)
		g.push(mk(tReopened, reopened, -1))
		final = 0
		if r.chance(0.85) {
			final = g.later(t, reopened, 30*minute, 3*day)
			g.push(mk(tCompleted, final, who))
		}
	}
	if r.chance(0.01) { // re-synced: a second created event, later, maybe another due
		again := created
		again.at = g.later(t, at, minute, 3*day)
		if again.due != "" && r.chance(0.5) {
			again.due = ""
		}
		g.push(again)
	}
	switch {
	case final > 0 && final-at < maxLate-3*day && r.chance(0.03):
		// the tool sends the created event late, after the completion
		g.pushAt(created, final+r.between(minute, 2*day))
		return
	case final > 0 && r.chance(0.003):
		// imported after the fact: created after it was completed
		created.at = final + r.between(minute, hour)
	}
	g.push(created)
}

var requestKindWeights = []int{50, 35, 15} // event.RequestKinds

// request opens one request by member i at unix time at, and maybe answers it.
func (g *gen) request(t *simTeam, i int, at int64) {
	r := g.r
	t.nReq++
	kind := event.RequestKinds[r.pick(requestKindWeights)]
	src := g.slack
	var id string
	if kind == "review" {
		src = g.github
		id = "acme/" + t.repo + "/pull/" + strconv.Itoa(t.nReq)
	} else {
		b := append([]byte(t.channel), '/')
		b = strconv.AppendInt(b, at, 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, 100000+int64(t.nReq%900000), 10)
		id = string(b)
	}
	opened := ev{typ: tReqOpened, src: src, team: t, at: at, request: id, kind: kind}
	if r.chance(0.92) {
		opened.person = t.person(i, src)
	}
	g.push(opened)
	if !r.chance(0.87) {
		return // never answered
	}
	var delay int64
	switch x := r.float(); {
	case x < 0.45:
		delay = r.between(2*minute, hour)
	case x < 0.8:
		delay = r.between(hour, 8*hour)
	default:
		delay = r.between(day, 4*day)
	}
	resp := g.snap(t, at+delay)
	if r.chance(0.002) { // clock skew: the answer claims to precede the question
		resp = at - r.between(5, 60)
	}
	j := g.other(t, i)
	g.push(ev{typ: tReqResponded, src: src, team: t, at: resp, request: id, person: t.person(j, src)})
	if r.chance(0.05) {
		g.push(ev{typ: tReqResponded, src: src, team: t, at: g.later(t, resp, 10*minute, day), request: id, person: t.person(g.other(t, j), src)})
	}
}

// entry is one time entry in civil seconds.
type entry struct {
	start, end int64
	cat        int
}

var (
	categoryWeights = []int{38, 22, 12, 8, 8, 5, 7} // event.Categories
	meetingMinutes  = []int64{15, 25, 30, 30, 45, 50, 60, 60, 90}
)

func (g *gen) duration(cat int) int64 {
	r := g.r
	switch event.Categories[cat] {
	case "focus":
		return r.between(6, 36) * 5 * minute
	case "meeting":
		return meetingMinutes[r.intn(len(meetingMinutes))] * minute
	case "collaboration", "learning":
		return r.between(6, 24) * 5 * minute
	case "support":
		return r.between(3, 12) * 5 * minute
	case "admin":
		return r.between(2, 9) * 5 * minute
	default:
		return r.between(2, 6) * 5 * minute
	}
}

// workday logs member i's time entries for the working day at civil base.
func (g *gen) workday(t *simTeam, i int, base int64) {
	r := g.r
	s := base + t.startHour + r.between(-6, 6)*5*minute
	length := 7*hour + r.between(0, 24)*5*minute
	if r.chance(0.06) {
		length = 10*hour + 30*minute + r.between(0, 24)*5*minute // a long day
	}
	stop := s + length
	lunch := false
	ents := g.ents[:0]
	for s < stop {
		if !lunch && s >= base+12*hour {
			s += 30*minute + r.between(0, 6)*5*minute
			lunch = true
			continue
		}
		c := r.pick(categoryWeights)
		e := s + g.duration(c)
		ents = append(ents, entry{s, e, c})
		s = e
		if r.chance(0.3) {
			s += r.between(1, 4) * 5 * minute
		}
	}
	g.ents = ents
	g.logEntries(t, i, ents, r.chance(0.25))
}

// evening logs a late-evening entry that may cross local midnight.
func (g *gen) evening(t *simTeam, i int, base int64) {
	s := base + 20*hour + 30*minute + g.r.between(0, 36)*5*minute
	cats := []int{0, 3, 6}
	g.ents = append(g.ents[:0], entry{s, s + g.r.between(6, 24)*5*minute, cats[g.r.intn(3)]})
	g.logEntries(t, i, g.ents, false)
}

func (g *gen) weekendWork(t *simTeam, i int, base int64) {
	s := base + 10*hour + g.r.between(0, 60)*5*minute
	ents := g.ents[:0]
	for range g.r.rangeInt(1, 2) {
		c := []int{0, 3}[g.r.intn(2)]
		e := s + g.duration(c)
		ents = append(ents, entry{s, e, c})
		s = e + g.r.between(0, 12)*5*minute
	}
	g.ents = ents
	g.logEntries(t, i, ents, false)
}

// logEntries publishes entries; batch means all were logged at the end of
// the day rather than one by one.
func (g *gen) logEntries(t *simTeam, i int, ents []entry, batch bool) {
	if len(ents) == 0 {
		return
	}
	r := g.r
	var last int64
	if batch {
		last = t.z.unix(ents[len(ents)-1].end) + r.between(minute, 30*minute)
	}
	who := t.person(i, t.timeSrc)
	for k, en := range ents {
		e := ev{typ: tTime, src: t.timeSrc, team: t, person: who, category: event.Categories[en.cat]}
		e.start, e.end = t.z.unix(en.start), t.z.unix(en.end)
		if batch {
			e.at = last + int64(k)
		} else {
			e.at = e.end + r.between(0, 10*minute)
		}
		if en.cat == 0 && len(t.recent) > 0 && r.chance(0.5) {
			e.task = t.recent[r.intn(len(t.recent))]
		}
		g.push(e)
	}
}

// push queues a valid event, deciding whether it is late, re-sent, or
// followed by a bad event. Events outside [start, end) are dropped.
func (g *gen) push(e ev) { g.pushAt(e, 0) }

func (g *gen) pushAt(e ev, pub int64) {
	if e.at < g.start || e.at >= g.end {
		return
	}
	r := g.r
	p := g.alloc()
	p.ev = e
	switch {
	case pub > 0:
		p.pub = pub
	case r.chance(g.o.LateRate):
		p.pub = e.at + r.between(hour, maxLate-hour)
	default:
		p.pub = e.at + r.between(0, 90)
	}
	p.dup = r.chance(g.o.DuplicateRate)
	g.enqueue(p)
	if r.chance(g.o.BadRate) {
		g.pushBad(&e)
	}
}

// Rejection reasons of bad events, in the pipeline's precedence order
// (an event with several faults gets the first; synth's have one each).
const (
	BadTooLarge          = "too_large"
	BadMalformedJSON     = "malformed_json"
	BadSurveillanceType  = "surveillance_type"
	BadSurveillanceField = "surveillance_field"
	BadUnknownType       = "unknown_type"
	BadUnknownField      = "unknown_field"
	BadMissingField      = "missing_field"
	BadValue             = "bad_value"
	BadTime              = "bad_time"
	BadEndBeforeStart    = "end_before_start"
)

// BadReasons lists every reason synth produces, in precedence order.
var BadReasons = []string{
	BadTooLarge, BadMalformedJSON, BadSurveillanceType, BadSurveillanceField, BadUnknownType,
	BadUnknownField, BadMissingField, BadValue, BadTime, BadEndBeforeStart,
}

var badWeights = []int{2, 12, 12, 14, 12, 12, 12, 8, 10, 10} // BadReasons

// pushBad queues one bad event next to the valid event e.
func (g *gen) pushBad(e *ev) {
	r := g.r
	t := e.team
	b := ev{team: t, at: e.at + r.between(1, 300), variant: uint8(r.intn(256))}
	if b.at >= g.end {
		b.at = e.at
	}
	reason := BadReasons[r.pick(badWeights)]
	who := r.intn(len(t.people))
	timeEntry := func() {
		b.typ, b.src, b.person, b.category = tTime, t.timeSrc, t.person(who, t.timeSrc), "focus"
		b.end = b.at - r.between(0, 5)*minute
		b.start = b.end - r.between(6, 24)*5*minute
	}
	taskEvent := func() {
		b.typ, b.src, b.person = tStarted, t.taskSrc, t.person(who, t.taskSrc)
		b.task = t.taskKey + "-" + strconv.Itoa(max(t.nTask, 1))
	}
	switch reason {
	case BadSurveillanceField, BadValue, BadEndBeforeStart:
		timeEntry()
		if reason == BadEndBeforeStart {
			b.start, b.end = b.end, b.start
		}
	case BadUnknownType:
		taskEvent()
		b.est = estimates[r.intn(len(estimates))]
	case BadSurveillanceType:
		timeEntry()
	default:
		if r.chance(0.5) {
			timeEntry()
		} else {
			taskEvent()
		}
	}
	p := g.alloc()
	p.ev, p.bad, p.pub = b, reason, b.at+r.between(0, 90)
	g.enqueue(p)
}

// flush publishes every queued event due before limit.
func (g *gen) flush(limit int64) error {
	for len(g.queue) > 0 && g.queue[0].pub < limit {
		p := g.dequeue()
		if err := g.send(p); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) send(p *pending) error {
	if p.pub < g.lastPub {
		panic("synth: an event was queued after its publish time had passed") // a bug in run's watermark
	}
	g.lastPub = p.pub
	m := Message{Bad: p.bad}
	if p.raw != nil {
		m.Key, m.Value = p.key, p.raw
	} else {
		var keyed bool
		g.buf, keyed = encode(g.buf[:0], &p.ev, p.bad)
		m.Value = g.keep(g.buf)
		if keyed {
			m.Key = g.keep([]byte(p.ev.team.id))
		}
	}
	if p.dup {
		q := g.alloc()
		q.pub, q.raw, q.key = p.pub+g.r.between(1, hour), m.Value, m.Key
		g.enqueue(q)
	}
	g.free = append(g.free, p)
	return g.fn(m)
}

// keep copies b into a slab that is never reused.
func (g *gen) keep(b []byte) []byte {
	if cap(g.slab)-len(g.slab) < len(b) {
		g.slab = make([]byte, 0, max(1<<20, len(b)))
	}
	n := len(g.slab)
	g.slab = append(g.slab, b...)
	return g.slab[n:len(g.slab):len(g.slab)]
}

func (g *gen) alloc() *pending {
	if n := len(g.free); n > 0 {
		p := g.free[n-1]
		g.free = g.free[:n-1]
		*p = pending{}
		return p
	}
	return new(pending)
}

func (a *pending) less(b *pending) bool {
	return a.pub < b.pub || a.pub == b.pub && a.seq < b.seq
}

func (g *gen) enqueue(p *pending) {
	g.seq++
	p.seq = g.seq
	q := append(g.queue, p)
	i := len(q) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !q[i].less(q[parent]) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
	g.queue = q
}

func (g *gen) dequeue() *pending {
	q := g.queue
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = nil
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q[r].less(q[l]) {
			m = r
		}
		if !q[m].less(q[i]) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	g.queue = q
	return top
}
