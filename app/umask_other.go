//go:build !unix

package app

import "io/fs"

// setPrivateUmask does nothing where there is no umask: files get the
// modes their creators ask for, and the startup walk tightens them.
func setPrivateUmask() {}

// ownerNote names no owner where file ownership is not a uid.
func ownerNote(fs.FileInfo) string { return "" }
