//go:build !linux

package transform

import (
	"fmt"
	"os"
	"syscall"
)

// limitData is Linux's RLIMIT_DATA elsewhere: not enforced, so the engine
// runs without its hard limit (DuckDB's memory_limit still applies).
func limitData(int64) error {
	fmt.Fprintln(os.Stderr, "serving engine: the hard memory limit (RLIMIT_DATA) is enforced on Linux only; running without it")
	return nil
}

func childProcAttr() *syscall.SysProcAttr { return nil }
