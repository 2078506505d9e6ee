// Package agreements owns the team agreements file: each team's async
// charter written down as configuration (time zone, working days, the
// response time the team promised, the length of a deep-work block, the
// daily hours beyond which work counts as overwork) and the organisation's
// minimum group size.
//
// It parses and validates the file strictly (unknown keys are errors, and
// every error names the file, the line and the key), resolves each team's
// settings (team > unit defaults > org defaults > built-in), answers
// calendar questions in a team's zone (IsWorkingDay, WorkingSeconds), and
// keeps the agreements in force across reloads (Holder).
//
// agreements describes teams and units only: it never holds, logs or
// returns anything about a person. The only identifiers it logs are team
// ids. It imports nothing of Shoal's except privacy (for the floor of the
// minimum group size) and must stay a light leaf package without cgo.
package agreements
