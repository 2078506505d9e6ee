package synth

import (
	"math"
	"strconv"
	"strings"
)

// Message is one Kafka message: Key is the team id (nil when the value
// has no readable data.team), Value the CloudEvents JSON. Bad is "" for a
// valid event, else the rejection reason the pipeline must give it.
type Message struct {
	Key, Value []byte
	Bad        string
}

// KeyValue is the message's Kafka key and value.
func (m Message) KeyValue() (key, value []byte) { return m.Key, m.Value }

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
