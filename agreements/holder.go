package agreements

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// maxUnlisted bounds how many unlisted team ids a Holder remembers (and
// logs one by one), so that events with made-up team ids cannot grow memory
// or flood the log.
const maxUnlisted = 10000

// Holder keeps the Org in force and swaps it on reload. It is safe for
// concurrent use: Get never blocks on a reload in progress.
type Holder struct {
	path   string
	logger *slog.Logger

	org    atomic.Pointer[Org]
	reload sync.Mutex // one Reload at a time
	sum    [32]byte   // sha256 of the file in force (under reload)

	unlisted  sync.Map // team id → struct{}: logged once
	nUnlisted atomic.Int64
}

// NewHolder loads the teams file at path ("" = no file: Default) and
// returns a Holder with it in force. A nil logger discards logs.
func NewHolder(path string, logger *slog.Logger) (*Holder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Holder{path: path, logger: logger.With("component", "agreements")}
	if path == "" {
		o := Default()
		h.org.Store(o)
		h.logger.Info("no teams file: built-in defaults apply to every team", "min_group_size", o.MinGroupSize())
		return h, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read teams file: %w", err)
	}
	o, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	h.org.Store(o)
	h.sum = sha256.Sum256(b)
	h.logLoaded("teams file loaded", o)
	return h, nil
}

func (h *Holder) logLoaded(msg string, o *Org) {
	f := o.Floors()
	h.logger.Info(msg, "file", o.Source(), "units", len(o.units), "teams", len(o.teams), "min_group_size", o.MinGroupSize(),
		"dominance_p", o.Policy().P, "min_flow_tasks", f.FlowTasks, "min_time_logged", f.TimeLogged, "min_async_requests", f.AsyncRequests)
}

// Get returns the Org in force; never nil.
func (h *Holder) Get() *Org { return h.org.Load() }

// Reload re-reads the file. On success the new Org is in force for every
// later Get and changed is true; a file whose bytes are those already in
// force changes nothing (changed false: reloads cost a read and a hash,
// however often they are asked for). On error the old Org stays in
// force, and the error (every problem, one per line) is logged and
// returned. Without a file it does nothing. One Reload runs at a time.
func (h *Holder) Reload() (changed bool, err error) {
	h.reload.Lock()
	defer h.reload.Unlock()
	if h.path == "" {
		h.logger.Info("reload: no teams file, built-in defaults stay in force")
		return false, nil
	}
	b, err := os.ReadFile(h.path)
	if err != nil {
		err = fmt.Errorf("teams file not reloaded, the previous version stays in force:\n%w", err)
		h.logger.Error("reload refused", "file", h.path, "err", err)
		return false, err
	}
	sum := sha256.Sum256(b)
	if sum == h.sum {
		h.logger.Info("reload: the teams file is unchanged", "file", h.path)
		return false, nil
	}
	o, err := Parse(h.path, b)
	if err != nil {
		err = fmt.Errorf("teams file not reloaded, the previous version stays in force:\n%w", err)
		h.logger.Error("reload refused", "file", h.path, "err", err)
		return false, err
	}
	h.org.Store(o)
	h.sum = sum
	h.logLoaded("teams file reloaded", o)
	return true, nil
}

// Listed reports whether the file in force lists team. Without a file no
// team is listed. Cheap enough to call for every event.
func (h *Holder) Listed(team string) bool {
	_, ok := h.Get().index[team]
	return ok
}

// Unlisted records a team seen in events that the file does not list. It
// logs each such team once per Holder (Info), so people-ops can add it; a
// team the file lists is ignored. Cheap enough to call for every event.
func (h *Holder) Unlisted(team string) {
	if team == "" {
		return
	}
	if _, done := h.unlisted.Load(team); done {
		return
	}
	if _, listed := h.Get().index[team]; listed {
		return
	}
	if h.nUnlisted.Load() >= maxUnlisted {
		return
	}
	if _, loaded := h.unlisted.LoadOrStore(team, struct{}{}); loaded {
		return
	}
	h.logger.Info("team not in the teams file: org defaults apply; add it to the file to set its agreements", "team", team, "unit", UnassignedUnit, "file", h.path)
	if h.nUnlisted.Add(1) == maxUnlisted {
		h.logger.Warn("too many teams missing from the teams file; no longer logging them one by one", "limit", maxUnlisted, "file", h.path)
	}
}
