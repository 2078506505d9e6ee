package agreements

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors: every *Error a teams file produces wraps one of these,
// or privacy.ErrMinGroupSize for a min_group_size below the floor, or
// privacy.ErrDominanceP for a dominance_p out of range.
var (
	ErrSyntax         = errors.New("teams file is not valid YAML")
	ErrEmpty          = errors.New("teams file is empty")
	ErrUnknownKey     = errors.New("unknown key")
	ErrDuplicateKey   = errors.New("duplicate key")
	ErrBadValue       = errors.New("bad value")
	ErrBadTimeZone    = errors.New("bad time zone")
	ErrBadDuration    = errors.New("bad duration")
	ErrBadWorkingDays = errors.New("bad working days")
	ErrBadID          = errors.New("bad id")
	ErrDuplicateID    = errors.New("duplicate id")
)

// Error is one problem in a teams file. Parse and Load return all of them
// joined with errors.Join, one per line, in file order.
type Error struct {
	File string // the name given to Parse, the path given to Load
	Line int    // 1-based; 0 when the problem is the whole file
	Key  string // e.g. units[1].teams[0].response_sla; "" for the whole file
	Msg  string // what is wrong and what to do
	Kind error  // one of the sentinels above, privacy.ErrMinGroupSize or privacy.ErrDominanceP
}

// Error formats the problem as file:line: key: message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Kind }
