// Package privacy holds Shoal's privacy rules in one place: the keyed
// pseudonymizer (person pseudonyms, and keyed task, request and time-entry
// ids), the vocabulary of monitoring data Shoal refuses, the shapes of
// person identifiers that must not ride in other fields
// (PersonIdentifierIn), and the
// whole disclosure policy every output passes through: the minimum group
// size, the dominance (p %) rule and the contribution floors (Policy,
// Floors; transform counts contributors at the floors and the magnitudes
// the rule needs), one tree's decision (Decide), the grouping of outcome
// cells into org → unit → team trees (Apply) and the decision of daily
// cells together with their weeks (ApplyDaily). Every output (the
// exporter, SQL, the report, the demo summary) gets its published cells
// from Apply and ApplyDaily, and from nowhere else.
//
// Of Shoal's packages it imports only the leaf vocabularies (outcome). It
// must never log, store or return a raw person identifier: the only thing
// that leaves Pseudonymizer is the keyed HMAC of the identifier, and
// PersonIdentifierIn says what kind of identifier it saw, never where.
package privacy
