package outcome

// QualityDay is what the pipeline did with one day's events: how many it
// accepted (by team-local event day) and how many it refused, by reason
// (by the day the refusal was committed). It describes no person and no
// team, so it needs no suppression (the SQL endpoint still withholds the accepted
// count of a day with fewer than k people active).
type QualityDay struct {
	Day      int32 // days since 1970-01-01
	Accepted int64
	Rejected map[string]int64 // by DLQ reason; nil when none
}
