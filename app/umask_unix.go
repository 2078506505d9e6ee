//go:build unix

package app

import (
	"fmt"
	"io/fs"
	"syscall"
)

// setPrivateUmask makes every file the process creates from now on
// private to its user, whatever mode the creator asks for (DuckDB asks
// for 0666, kfake for 0644).
func setPrivateUmask() { syscall.Umask(0o077) }

// ownerNote names the owner of a path when it is not this process's user.
func ownerNote(info fs.FileInfo) string {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == syscall.Getuid() {
		return ""
	}
	return fmt.Sprintf(", owned by uid %d", st.Uid)
}
