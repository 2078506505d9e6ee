package synth

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/privacy"
)

// This file is the test's own reading of the event contract: classify
// returns the rejection reason of a message value by the pipeline's
// precedence, or "" for a valid event. It shares nothing with the
// generator.

type fieldRule struct{ required, optional []string }

var dataFields = map[string]fieldRule{
	event.TaskCreated:      {[]string{"team", "task"}, []string{"person", "due", "estimate_hours", "kind"}},
	event.TaskStarted:      {[]string{"team", "task", "person"}, nil},
	event.TaskCompleted:    {[]string{"team", "task", "person"}, nil},
	event.TaskBlocked:      {[]string{"team", "task"}, nil},
	event.TaskUnblocked:    {[]string{"team", "task"}, nil},
	event.TaskReopened:     {[]string{"team", "task"}, nil},
	event.TaskCancelled:    {[]string{"team", "task"}, nil},
	event.TimeLogged:       {[]string{"team", "person", "start", "end", "category"}, []string{"task"}},
	event.RequestOpened:    {[]string{"team", "request", "kind"}, []string{"person"}},
	event.RequestResponded: {[]string{"team", "request", "person"}, nil},
}

var envelopeFields = []string{"specversion", "id", "source", "type", "time", "data"}

func classify(v []byte) string {
	_, reason := parseEvent(v)
	return reason
}

// parseEvent decodes v once and classifies it; env is nil unless v is a
// JSON object.
func parseEvent(v []byte) (env map[string]any, reason string) {
	if len(v) > event.DefaultMaxEventSz {
		return nil, BadTooLarge
	}
	if json.Unmarshal(v, &env) != nil || env == nil {
		return nil, BadMalformedJSON
	}
	typ, _ := env["type"].(string)
	if _, ok := privacy.IsSurveillanceName(typ); ok {
		return env, BadSurveillanceType
	}
	data, _ := env["data"].(map[string]any)
	if data == nil {
		return env, BadMissingField
	}
	for k := range data {
		if _, ok := privacy.IsSurveillanceName(k); ok {
			return env, BadSurveillanceField
		}
	}
	rule, ok := dataFields[typ]
	if !ok {
		return env, BadUnknownType
	}
	for k := range env {
		if !slices.Contains(envelopeFields, k) {
			return env, BadUnknownField
		}
	}
	for k := range data {
		if !slices.Contains(rule.required, k) && !slices.Contains(rule.optional, k) {
			return env, BadUnknownField
		}
	}
	for _, k := range envelopeFields[:5] {
		if s, _ := env[k].(string); s == "" {
			return env, BadMissingField
		}
	}
	for _, k := range rule.required {
		if _, ok := data[k]; !ok {
			return env, BadMissingField
		}
	}
	str := func(k string) string { s, _ := data[k].(string); return s }
	for k, x := range data {
		if k == "estimate_hours" {
			if f, ok := x.(float64); !ok || f < 0 {
				return env, BadValue
			}
			continue
		}
		if s, _ := x.(string); s == "" {
			return env, BadValue
		}
	}
	switch {
	case env["specversion"] != event.SpecVersion,
		len(str("team")) > event.MaxTeamLen,
		len(str("task")) > event.MaxIdentifierLen,
		len(str("request")) > event.MaxIdentifierLen,
		len(str("person")) > event.MaxIdentifierLen:
		return env, BadValue
	case typ == event.TaskCreated && str("kind") != "" && !slices.Contains(event.TaskKinds, str("kind")),
		typ == event.RequestOpened && !slices.Contains(event.RequestKinds, str("kind")),
		typ == event.TimeLogged && !slices.Contains(event.Categories, str("category")):
		return env, BadValue
	}
	if _, err := time.Parse(time.RFC3339, env["time"].(string)); err != nil {
		return env, BadTime
	}
	if due := str("due"); due != "" {
		_, err1 := time.Parse(time.RFC3339, due)
		_, err2 := time.Parse(time.DateOnly, due)
		if err1 != nil && err2 != nil {
			return env, BadTime
		}
	}
	if typ == event.TimeLogged {
		start, err1 := time.Parse(time.RFC3339, str("start"))
		end, err2 := time.Parse(time.RFC3339, str("end"))
		if err1 != nil || err2 != nil {
			return env, BadTime
		}
		if end.Before(start) {
			return env, BadEndBeforeStart
		}
	}
	return env, ""
}

// repair removes the one fault a bad message was made with, so a test
// can show the fault was the only one.
func repair(bad string, v []byte) []byte {
	if bad == BadTooLarge {
		var c bytes.Buffer
		if json.Compact(&c, v) != nil {
			return v
		}
		return c.Bytes()
	}
	var env map[string]any
	if json.Unmarshal(v, &env) != nil {
		return v
	}
	data, _ := env["data"].(map[string]any)
	if data == nil {
		return v
	}
	switch bad {
	case BadSurveillanceType:
		if _, ok := data["start"]; ok {
			env["type"] = event.TimeLogged
			data["category"] = "focus"
		} else {
			env["type"] = event.TaskStarted
			data["task"] = "T-1"
		}
	case BadUnknownType:
		env["type"] = event.TaskCreated
	case BadSurveillanceField:
		for _, f := range SurveillanceFields {
			delete(data, f)
		}
	case BadUnknownField:
		delete(data, UnknownField)
	case BadMissingField:
		data["team"] = "platform-payments"
	case BadValue:
		data["category"] = "focus"
	case BadTime:
		env["time"] = "2025-03-03T09:00:00Z"
	case BadEndBeforeStart:
		data["start"], data["end"] = data["end"], data["start"]
	}
	out, _ := json.Marshal(env)
	return out
}
