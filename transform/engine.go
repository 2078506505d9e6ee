package transform

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The serving engine process: the serving database in a child process of
// Shoal's own binary, with a hard memory limit. DuckDB's memory_limit
// bounds only its buffer manager: a query's vectors, constant folding and
// result sets are outside it (unnest(range(100000000)), or a chain of
// s || s subqueries, grows a process by gigabytes under a 256 MB limit).
// In its own process, under RLIMIT_DATA, such an allocation fails and
// DuckDB turns it into an out-of-memory error for that statement; anything
// worse ends the child, never the pipeline. The parent restarts it and
// republishes.

// EngineConfig configures the serving engine process.
type EngineConfig struct {
	// MemoryLimit is the most memory the engine process may map for data
	// (RLIMIT_DATA), in bytes; DuckDB's memory_limit inside it is a quarter
	// of it, and so is the Go heap's soft limit. Default: 1 GiB.
	MemoryLimit int64
	// Threads caps DuckDB's worker threads. Default: 2.
	Threads int
	// KillAfter is how long a cancelled statement may run on before the
	// engine process is killed and restarted. Default: 5s.
	KillAfter time.Duration
	// Republish publishes the tables again after the engine process has
	// been restarted (from the release ledger); until it returns, queries
	// are refused with SQLSTATE 57P03. Default: none (the tables stay
	// empty until the next publication).
	Republish func(ctx context.Context) error
}

// MinEngineMemory is the least memory the engine process can run in.
const MinEngineMemory = 256 << 20

// Environment of the engine process: its presence makes a Shoal binary the
// engine (RunEngine).
const (
	engineEnv        = "SHOAL_SERVING_ENGINE"
	engineMemoryEnv  = "SHOAL_SERVING_ENGINE_MEMORY"
	engineThreadsEnv = "SHOAL_SERVING_ENGINE_THREADS"
)

// StateEngineRestarting is the SQLSTATE of a query refused while the
// engine process restarts (cannot_connect_now).
const StateEngineRestarting = "57P03"

// Operations of the engine protocol (requests from Shoal).
const (
	opDescribe     = iota + 1 // Query → a describe reply
	opQuery                   // Query, Args, MaxRows, MaxBytes → columns, then rows per fetch
	opFetch                   // → the next batch of rows
	opCancel                  // end the request (its terminal reply follows)
	opPublish                 // Tables → ok once every table's rows ended
	opPublishRows             // Rows of the current table
	opPublishTable            // the current table's rows ended
	opPublishAbort            // the publication failed on Shoal's side
)

// Kinds of replies (from the engine).
const (
	replyReady    = iota + 1 // the engine is up (ID 0)
	replyDescribe            // Names, Types, Params (terminal)
	replyColumns             // Names, Types of an open result
	replyRows                // Rows; Done (terminal) at the end
	replyOK                  // terminal
	replyError               // Code, Msg (terminal)
)

// engineRequest is one message to the engine.
type engineRequest struct {
	Op       int
	ID       uint64
	Query    string
	Args     []engineValue
	MaxRows  int
	MaxBytes int64
	Tables   []engineTable
	Rows     [][]engineValue
}

// engineReply is one message from the engine.
type engineReply struct {
	Kind         int
	ID           uint64
	Names, Types []string
	Params       int
	Rows         [][]engineValue
	Done         bool
	Code, Msg    string
}

func (r *engineReply) terminal() bool {
	switch r.Kind {
	case replyDescribe, replyOK, replyError:
		return true
	case replyRows:
		return r.Done
	}
	return false
}

type engineTable struct {
	Name    string
	Columns []ServingColumn
}

// engineValue carries one value: gob cannot carry a nil in an []any.
type engineValue struct {
	K byte // 0 NULL, then the vKinds
	B bool
	I int64
	F float64
	S string
	T time.Time
}

const (
	vBool = iota + 1
	vInt
	vFloat
	vString
	vTime
)

func toEngineValue(v any) (engineValue, error) {
	switch x := v.(type) {
	case nil:
		return engineValue{}, nil
	case bool:
		return engineValue{K: vBool, B: x}, nil
	case int:
		return engineValue{K: vInt, I: int64(x)}, nil
	case int32:
		return engineValue{K: vInt, I: int64(x)}, nil
	case int64:
		return engineValue{K: vInt, I: x}, nil
	case float64:
		return engineValue{K: vFloat, F: x}, nil
	case string:
		return engineValue{K: vString, S: x}, nil
	case time.Time:
		return engineValue{K: vTime, T: x}, nil
	}
	return engineValue{}, fmt.Errorf("value of type %T: publish nil, bool, integers, float64, string or time.Time", v)
}

func (v engineValue) value() any {
	switch v.K {
	case vBool:
		return v.B
	case vInt:
		return v.I
	case vFloat:
		return v.F
	case vString:
		return v.S
	case vTime:
		return v.T
	}
	return nil
}

func toEngineValues(vs []any) ([]engineValue, error) {
	out := make([]engineValue, len(vs))
	for i, v := range vs {
		var err error
		if out[i], err = toEngineValue(v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fromEngineValues(vs []engineValue) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v.value()
	}
	return out
}

// ServingProcess is the serving database in a child process: it has the
// methods of Serving (Describe, Query, Publish) and restarts the process
// when it dies or is killed.
type ServingProcess struct {
	cfg EngineConfig
	log *slog.Logger

	pubMu sync.Mutex // one Publish at a time

	mu       sync.Mutex
	child    *engineChild // nil while (re)starting
	ready    bool         // false from a restart until republished
	closed   bool
	restarts int
	done     chan struct{} // closed by Close
	wg       sync.WaitGroup
}

// StartServingProcess starts the engine process with an empty serving
// database.
func StartServingProcess(ctx context.Context, cfg EngineConfig, logger *slog.Logger) (*ServingProcess, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if os.Getenv(engineEnv) != "" {
		return nil, errors.New("serving engine: a process started as the engine does not start engines (call transform.RunEngine first in main)")
	}
	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = 1 << 30
	}
	if cfg.MemoryLimit < MinEngineMemory {
		return nil, fmt.Errorf("%w: the serving engine needs at least %d MiB, got %d bytes", ErrBadMemoryLimit, MinEngineMemory>>20, cfg.MemoryLimit)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = 2
	}
	if cfg.KillAfter <= 0 {
		cfg.KillAfter = 5 * time.Second
	}
	p := &ServingProcess{cfg: cfg, log: logger.With("component", "serving"), done: make(chan struct{})}
	c, err := p.start(ctx)
	if err != nil {
		return nil, err
	}
	p.child, p.ready = c, true
	p.watch(c)
	return p, nil
}

// Pid is the engine process's id (0 while it restarts).
func (p *ServingProcess) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.child == nil {
		return 0
	}
	return p.child.cmd.Process.Pid
}

// Restarts is how many times the engine process has been restarted.
func (p *ServingProcess) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Close stops the engine process.
func (p *ServingProcess) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	c := p.child
	p.mu.Unlock()
	if c != nil {
		c.stop()
	}
	p.wg.Wait()
	return nil
}

// current is the running engine; for queries only once it has its tables.
func (p *ServingProcess) current(forPublish bool) (*engineChild, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		return nil, &ServingError{Code: StateEngineRestarting, Msg: "the SQL engine is shutting down"}
	case p.child == nil || !p.ready && !forPublish:
		return nil, &ServingError{Code: StateEngineRestarting, Msg: "the SQL engine is restarting after a statement went past its limits; try again in a moment"}
	}
	return p.child, nil
}

// start runs a new engine process and waits until it is up.
func (p *ServingProcess) start(ctx context.Context) (*engineChild, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("serving engine: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("serving engine: %w", err)
	}
	exe := "/proc/self/exe" // the running binary, even if replaced on disk since
	if runtime.GOOS != "linux" {
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("serving engine: %w", err)
		}
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), engineEnv+"=1",
		engineMemoryEnv+"="+strconv.FormatInt(p.cfg.MemoryLimit, 10),
		engineThreadsEnv+"="+strconv.Itoa(p.cfg.Threads))
	cmd.ExtraFiles = []*os.File{reqR, repW} // fd 3 and 4 in the child
	tail := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = tail, tail
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		reqR.Close()
		reqW.Close()
		repR.Close()
		repW.Close()
		return nil, fmt.Errorf("start the serving engine process: %w", err)
	}
	reqR.Close()
	repW.Close()
	c := &engineChild{
		cmd: cmd, log: p.log, killAfter: p.cfg.KillAfter, tail: tail,
		in: reqW, enc: gob.NewEncoder(reqW), out: repR,
		pending: map[uint64]*pendingReply{}, dead: make(chan struct{}), exited: make(chan struct{}),
	}
	ready := make(chan error, 1)
	go c.read(ready)
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case err := <-ready:
		if err == nil {
			p.log.Info("serving engine process started", "pid", cmd.Process.Pid, "memory_limit_bytes", p.cfg.MemoryLimit, "threads", p.cfg.Threads)
			return c, nil
		}
		c.kill()
		<-c.exited
		return nil, fmt.Errorf("the serving engine process did not start: %w (its output: %q)", err, tail.String())
	case <-t.C:
	case <-ctx.Done():
	}
	c.kill()
	<-c.exited
	return nil, fmt.Errorf("the serving engine process did not start within 30s (its output: %q)", tail.String())
}

// watch restarts the engine when c exits, until Close.
func (p *ServingProcess) watch(c *engineChild) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		<-c.exited
		c.markDead()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.child, p.ready = nil, false
		p.restarts++
		p.mu.Unlock()
		p.log.Warn("serving engine process ended; restarting it", "pid", c.cmd.Process.Pid, "exit", fmt.Sprint(c.waitErr), "output", c.tail.String())
		p.restart()
	}()
}

// restart starts a new engine process (retrying with backoff) and
// republishes.
func (p *ServingProcess) restart() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for wait := time.Second; ; wait = min(2*wait, 30*time.Second) {
		c, err := p.start(ctx)
		if err == nil {
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.stop()
				return
			}
			p.child = c
			p.mu.Unlock()
			p.watch(c)
			if p.cfg.Republish != nil {
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Minute)
				err := p.cfg.Republish(rctx)
				rcancel()
				if err != nil {
					p.log.Warn("serving engine restarted, but republishing failed; queries stay refused until the next publication", "err", fmt.Sprint(err))
					return
				}
			}
			p.mu.Lock()
			if p.child == c {
				p.ready = true
			}
			p.mu.Unlock()
			return
		}
		p.log.Error("serving engine process did not restart; retrying", "err", fmt.Sprint(err), "in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// Describe is Serving.Describe, in the engine process.
func (p *ServingProcess) Describe(ctx context.Context, query string) (names, types []string, params int, err error) {
	c, err := p.current(false)
	if err != nil {
		return nil, nil, 0, err
	}
	id, pr := c.register()
	if err := c.send(&engineRequest{Op: opDescribe, ID: id, Query: query}); err != nil {
		return nil, nil, 0, err
	}
	r, err := c.wait(ctx, id, pr)
	if err != nil {
		return nil, nil, 0, err
	}
	return r.Names, r.Types, r.Params, nil
}

// Query is Serving.Query, in the engine process: rows arrive a batch at a
// time as they are read.
func (p *ServingProcess) Query(ctx context.Context, query string, args []any, maxRows int, maxBytes int64) (Rows, error) {
	c, err := p.current(false)
	if err != nil {
		return nil, err
	}
	vals, err := toEngineValues(args)
	if err != nil {
		return nil, &ServingError{Code: "22023", Msg: "bad parameter", Err: err}
	}
	id, pr := c.register()
	if err := c.send(&engineRequest{Op: opQuery, ID: id, Query: query, Args: vals, MaxRows: maxRows, MaxBytes: maxBytes}); err != nil {
		return nil, err
	}
	r, err := c.wait(ctx, id, pr)
	if err != nil {
		return nil, err
	}
	return &processRows{ctx: ctx, c: c, id: id, pr: pr, names: r.Names, types: r.Types}, nil
}

// Publish is Serving.Publish, in the engine process: each table's rows
// (Rows, then Fill's) are sent in batches as they are produced.
func (p *ServingProcess) Publish(ctx context.Context, tables []ServingTable) error {
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	c, err := p.current(true)
	if err != nil {
		return err
	}
	schemas := make([]engineTable, len(tables))
	for i, t := range tables {
		schemas[i] = engineTable{Name: t.Name, Columns: t.Columns}
	}
	id, pr := c.register()
	if err := c.send(&engineRequest{Op: opPublish, ID: id, Tables: schemas}); err != nil {
		return err
	}
	abort := func(err error) error {
		if c.isPending(id) {
			c.send(&engineRequest{Op: opPublishAbort, ID: id}) //nolint:errcheck // the error below is the one that matters
			c.wait(ctx, id, pr)                                //nolint:errcheck // ditto
		}
		return err
	}
	for _, t := range tables {
		var batch [][]engineValue
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			select {
			case r := <-pr.ch: // the engine refused the publication already
				return &ServingError{Code: r.Code, Msg: r.Msg}
			default:
			}
			err := c.send(&engineRequest{Op: opPublishRows, ID: id, Rows: batch})
			batch = nil
			return err
		}
		add := func(row []any) error {
			vals, err := toEngineValues(row)
			if err != nil {
				return fmt.Errorf("publish: table %s: %w", t.Name, err)
			}
			batch = append(batch, vals)
			if len(batch) >= 512 {
				return flush()
			}
			return nil
		}
		for _, r := range t.Rows {
			if err := add(r); err != nil {
				return abort(err)
			}
		}
		if t.Fill != nil {
			if err := t.Fill(add); err != nil {
				return abort(err)
			}
		}
		if err := flush(); err != nil {
			return abort(err)
		}
		if err := c.send(&engineRequest{Op: opPublishTable, ID: id}); err != nil {
			return abort(err)
		}
	}
	_, err = c.wait(ctx, id, pr)
	return err
}

// engineChild is one engine process and its two pipes.
type engineChild struct {
	cmd       *exec.Cmd
	log       *slog.Logger
	killAfter time.Duration
	tail      *tailBuffer

	in    *os.File // requests
	encMu sync.Mutex
	enc   *gob.Encoder
	out   *os.File // replies

	nextID  atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]*pendingReply // requests without their terminal reply

	deadOnce sync.Once
	dead     chan struct{} // the replies ended
	exited   chan struct{} // the process ended (waitErr set)
	waitErr  error
	stopping atomic.Bool
}

// pendingReply is where the replies of one request arrive.
type pendingReply struct {
	ch chan *engineReply
}

func (c *engineChild) register() (uint64, *pendingReply) {
	id := c.nextID.Add(1)
	pr := &pendingReply{ch: make(chan *engineReply, 2)}
	c.mu.Lock()
	c.pending[id] = pr
	c.mu.Unlock()
	return id, pr
}

func (c *engineChild) isPending(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pending[id]
	return ok
}

var errEngineGone = &ServingError{Code: StateEngineRestarting, Msg: "the SQL engine process ended (a statement went past its limits?); it is restarting: try again in a moment"}

func (c *engineChild) send(r *engineRequest) error {
	c.encMu.Lock()
	defer c.encMu.Unlock()
	select {
	case <-c.dead:
		return errEngineGone
	default:
	}
	if err := c.enc.Encode(r); err != nil {
		return errEngineGone
	}
	return nil
}

// wait returns the next reply to request id. When ctx ends first, the
// request is cancelled, and the engine is killed if it has not ended the
// request within killAfter.
func (c *engineChild) wait(ctx context.Context, id uint64, pr *pendingReply) (*engineReply, error) {
	select {
	case r := <-pr.ch:
		if r.Kind == replyError {
			return nil, &ServingError{Code: r.Code, Msg: r.Msg}
		}
		return r, nil
	case <-c.dead:
		return nil, errEngineGone
	case <-ctx.Done():
		c.cancel(id)
		return nil, &ServingError{Code: StateQueryCanceled, Msg: "query cancelled: it ran past the statement timeout or the client cancelled it", Err: ctx.Err()}
	}
}

// cancel ends request id, killing the engine if it does not end in time.
func (c *engineChild) cancel(id uint64) {
	if !c.isPending(id) {
		return
	}
	c.send(&engineRequest{Op: opCancel, ID: id}) //nolint:errcheck // a dead engine has ended it
	time.AfterFunc(c.killAfter, func() {
		if c.isPending(id) {
			c.log.Warn("a cancelled SQL statement kept running; killing the serving engine process", "pid", c.cmd.Process.Pid, "after", c.killAfter)
			c.kill()
		}
	})
}

// read dispatches replies until the pipe ends.
func (c *engineChild) read(ready chan<- error) {
	defer c.markDead()
	dec := gob.NewDecoder(c.out)
	var first engineReply
	if err := dec.Decode(&first); err != nil {
		ready <- err
		return
	}
	if first.Kind != replyReady {
		ready <- fmt.Errorf("unexpected first reply %d: %s", first.Kind, first.Msg)
		return
	}
	ready <- nil
	for {
		r := &engineReply{}
		if err := dec.Decode(r); err != nil {
			return
		}
		c.mu.Lock()
		pr := c.pending[r.ID]
		if r.terminal() {
			delete(c.pending, r.ID)
		}
		c.mu.Unlock()
		if pr == nil {
			continue
		}
		select {
		case pr.ch <- r:
		default: // its waiter has gone
		}
	}
}

func (c *engineChild) markDead() {
	c.deadOnce.Do(func() {
		close(c.dead)
		c.out.Close()
		c.mu.Lock()
		c.pending = map[uint64]*pendingReply{}
		c.mu.Unlock()
	})
}

func (c *engineChild) kill() {
	c.cmd.Process.Kill() //nolint:errcheck // it may have ended already
}

// stop ends the engine: its requests end, then it exits; killed if not in
// 5s.
func (c *engineChild) stop() {
	c.stopping.Store(true)
	c.encMu.Lock()
	c.in.Close()
	c.encMu.Unlock()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		c.kill()
		<-c.exited
	}
	c.markDead()
}

// processRows is an open result in the engine process.
type processRows struct {
	ctx          context.Context
	c            *engineChild
	id           uint64
	pr           *pendingReply
	names, types []string
	buf          [][]engineValue
	cur          []any
	done         bool
	err          error
}

func (r *processRows) Columns() (names, types []string) { return r.names, r.types }
func (r *processRows) Values() []any                    { return r.cur }
func (r *processRows) Err() error                       { return r.err }

func (r *processRows) Next() bool {
	for len(r.buf) == 0 {
		if r.done || r.err != nil {
			return false
		}
		if err := r.c.send(&engineRequest{Op: opFetch, ID: r.id}); err != nil {
			r.err = err
			return false
		}
		rep, err := r.c.wait(r.ctx, r.id, r.pr)
		if err != nil {
			r.err = err
			return false
		}
		r.buf, r.done = rep.Rows, rep.Done
	}
	r.cur = fromEngineValues(r.buf[0])
	r.buf = r.buf[1:]
	return true
}

func (r *processRows) Close() error {
	if !r.done && r.err == nil {
		r.done = true
		r.c.cancel(r.id)
	}
	return nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

var (
	_ io.Writer = (*tailBuffer)(nil)
	_ Rows      = (*processRows)(nil)
)

// engineLimits reads the engine process's limits from its environment.
func engineLimits() (memory int64, threads int) {
	memory, _ = strconv.ParseInt(os.Getenv(engineMemoryEnv), 10, 64)
	if memory <= 0 || memory > math.MaxInt64/2 {
		memory = 1 << 30
	}
	threads, _ = strconv.Atoi(os.Getenv(engineThreadsEnv))
	return memory, max(threads, 1)
}

// errAborted ends a publication Shoal gave up on.
var errAborted = errors.New("publication aborted")
