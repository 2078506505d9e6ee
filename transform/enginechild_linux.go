package transform

import "syscall"

// limitData caps the process's data segment (RLIMIT_DATA: heap, anonymous
// mappings, thread stacks): an allocation past it fails, which DuckDB
// reports as an out-of-memory error.
func limitData(n int64) error {
	return syscall.Setrlimit(syscall.RLIMIT_DATA, &syscall.Rlimit{Cur: uint64(n), Max: uint64(n)})
}

// childProcAttr kills the engine process when Shoal dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
