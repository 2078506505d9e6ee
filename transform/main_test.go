package transform

import (
	"os"
	"testing"
)

// TestMain: this test binary is the serving engine process of its own
// tests (StartServingProcess runs the executable that is running).
func TestMain(m *testing.M) {
	RunEngine()
	os.Exit(m.Run())
}
