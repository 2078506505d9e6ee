// Package privacy holds Shoal's privacy rules in one place: the keyed
// pseudonymizer, the vocabulary of monitoring data Shoal refuses, and the
// minimum-group-size policy every output passes through.
//
// It imports nothing else of Shoal's. It must never log, store or return a
// raw person identifier: the only thing that leaves Pseudonymizer is the
// keyed HMAC of the identifier.
package privacy
