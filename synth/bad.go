package synth

import (
	"bytes"
	"strconv"

	"github.com/shoal-analytics/shoal/event"
)

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

// Fault details of bad events, exported so tests can check them.
const (
	UnknownType      = "work.task.estimated"
	UnknownField     = "mood"
	BadTimeValue     = "yesterday"
	BadCategoryValue = "gaming"
	TooLargeSize     = event.DefaultMaxEventSz + 1024 // bytes of a too_large value, at least
)

var padding = bytes.Repeat([]byte(" "), TooLargeSize)

// SurveillanceTypes and SurveillanceFields are the monitoring names bad
// events carry.
var (
	SurveillanceTypes  = []string{"work.activity.keystrokes", "work.screen.captured"}
	SurveillanceFields = []string{"window_title", "url", "idle_seconds"}
)
