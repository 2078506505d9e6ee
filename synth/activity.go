package synth

import (
	"math"
	"strconv"

	"github.com/shoal-analytics/shoal/event"
)

// The simulated working life of a team: tasks, requests and time entries
// in the team's local working hours.

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
