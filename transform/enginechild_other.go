//go:build !linux

package transform

import (
	"errors"
	"syscall"
)

func limitData(int64) error {
	return errors.New("the serving engine's memory limit needs Linux (RLIMIT_DATA)")
}

func childProcAttr() *syscall.SysProcAttr { return nil }
