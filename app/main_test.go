package app

import (
	"os"
	"testing"

	"github.com/shoal-analytics/shoal/transform"
)

// TestMain: this test binary is the SQL endpoint's engine process in its
// own tests (the engine is the executable that is running).
func TestMain(m *testing.M) {
	transform.RunEngine()
	os.Exit(m.Run())
}
