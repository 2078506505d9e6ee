package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// groupOther are the permission bits Shoal's files never have: the data
// directory holds the broker's log of raw events, the DuckDB file and the
// reports, so it and everything in it belong to Shoal's user alone
// (directories 0700, files 0600).
const groupOther fs.FileMode = 0o077

// chmod is os.Chmod; tests make it fail as it does for another user's
// path (they may run as root, who may chmod anything).
var chmod = os.Chmod

// secureDataDir creates dir (0700) if it is missing and makes it and
// everything in it private to Shoal's user: it sets the process umask to
// 077, so that what Shoal and its libraries create from now on (DuckDB's
// file and WAL, the broker's log, the reports) is 0600 whatever mode they
// ask for, and takes the group and other bits off every directory and file
// already there (a volume that existed, a data dir made by hand), logging
// what it tightened. A path it cannot tighten (owned by another user) is
// refused with what to do. Symbolic links inside dir are not followed.
func secureDataDir(dir string, logger *slog.Logger) error {
	setPrivateUmask()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	// tightened is what was tightened under each entry of the data dir
	// ("." for the directory itself), for one log line.
	tightened := map[string][]string{}
	var refused []error
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, walkErr error) error {
		if walkErr != nil {
			if d != nil && d.IsDir() && path != root {
				// A subdirectory Shoal cannot list (a volume's lost+found):
				// it was already checked private itself, or refused.
				logger.Warn("data directory: a subdirectory Shoal cannot read was not checked", "component", "files", "path", path, "err", walkErr)
				return fs.SkipDir
			}
			return walkErr
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil // chmod would follow it out of the data directory
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since it was listed (a temporary file)
		}
		if err != nil {
			return err
		}
		mode := info.Mode()
		if mode&groupOther == 0 {
			return nil
		}
		private := mode &^ groupOther
		if err := chmod(path, private); errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			refused = append(refused, fmt.Errorf("%s has mode %04o%s and cannot be made %04o: %w", path, mode.Perm(), ownerNote(info), private.Perm(), err))
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		top, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
		tightened[top] = append(tightened[top], fmt.Sprintf("%s %04o→%04o", rel, mode.Perm(), private.Perm()))
		return nil
	})
	if len(refused) > 0 {
		return fmt.Errorf("data dir %s must be private to Shoal's user (it holds raw events, the DuckDB file and the reports: directories 0700, files 0600), but:\n%w\n"+
			"run Shoal as the owner of these paths, chown them to Shoal's user (uid %d), or point --data-dir at a new directory Shoal creates, e.g. %s",
			dir, errors.Join(refused...), os.Getuid(), filepath.Join(dir, "shoal"))
	}
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if len(tightened) > 0 {
		logger.Warn("data directory permissions tightened: group and other access removed", "component", "files", "dir", dir,
			"tightened", tightenedSummary(tightened))
	}
	return nil
}

// tightenedSummary names each entry of the data dir that was tightened,
// with its modes, or how many paths under it were.
func tightenedSummary(by map[string][]string) string {
	tops := slices.Sorted(maps.Keys(by))
	parts := make([]string, 0, len(tops))
	for _, top := range tops {
		if len(by[top]) == 1 {
			parts = append(parts, by[top][0])
		} else {
			parts = append(parts, fmt.Sprintf("%s/ (%d paths)", top, len(by[top])))
		}
	}
	return strings.Join(parts, ", ")
}

// keyInsideDataDir reports whether the key file lies inside the data
// directory (after symbolic links), where a backup or copy of the data
// would carry the key that links its pseudonyms to people.
func keyInsideDataDir(keyFile, dataDir string) bool {
	key, dir := realPath(keyFile), realPath(dataDir)
	rel, err := filepath.Rel(dir, key)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// realPath is p made absolute with its symbolic links resolved, as far as
// it exists.
func realPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real
	}
	// Resolve the longest existing parent: a data dir that does not exist
	// yet may be under a symbolic link.
	parent, rest := filepath.Dir(abs), filepath.Base(abs)
	for parent != filepath.Dir(parent) {
		if real, err := filepath.EvalSymlinks(parent); err == nil {
			return filepath.Join(real, rest)
		}
		parent, rest = filepath.Dir(parent), filepath.Join(filepath.Base(parent), rest)
	}
	return abs
}
