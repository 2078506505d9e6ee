package wait

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	n := 0
	if !Until(time.Second, func() bool { n++; return n == 3 }) || n != 3 {
		t.Errorf("a condition that holds on the third call: n = %d", n)
	}
	if Until(50*time.Millisecond, func() bool { return false }) {
		t.Error("a condition that never holds reported as held")
	}
}
