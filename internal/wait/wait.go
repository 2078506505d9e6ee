// Package wait is the one polling helper of Shoal's tests: they wait on
// conditions, not on time. It imports nothing, so every package's tests
// can use it without linking what the app's test helpers link.
package wait

import "time"

// Until calls cond every 20 ms until it holds or timeout has passed, and
// reports whether it held. The timeout only bounds a hang.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
