package transform

import (
	"context"
	"encoding/gob"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RunEngine makes this process the serving engine when Shoal started it as
// one (SHOAL_SERVING_ENGINE set): it serves Shoal and exits, never
// returning. Otherwise it returns at once. Every binary that starts the
// SQL endpoint calls it first in main, and in TestMain for test binaries:
// the engine is the same executable. It cannot run from an init function:
// a DuckDB thread calling back into Go (the result budget function) waits
// until package initialisation has finished.
func RunEngine() {
	if os.Getenv(engineEnv) == "" {
		return
	}
	engineRan.Store(true)
	os.Exit(runEngine())
}

// engineRan tells init's check that RunEngine took over.
var engineRan atomic.Bool

// A binary started as an engine that does not call RunEngine would run as
// Shoal (or run its tests) instead: it is stopped after a moment, and
// StartServingProcess refuses to start engines from it.
func init() {
	if os.Getenv(engineEnv) == "" {
		return
	}
	go func() {
		time.Sleep(2 * time.Second)
		if !engineRan.Load() {
			fmt.Fprintln(os.Stderr, "serving engine: this binary does not call transform.RunEngine first in main (or TestMain)")
			os.Exit(3)
		}
	}()
}

// runEngine serves the engine protocol on fd 3 (requests) and fd 4
// (replies) until fd 3 ends.
func runEngine() int {
	memory, threads := engineLimits()
	if err := limitData(memory); err != nil {
		fmt.Fprintln(os.Stderr, "serving engine: limit memory:", err)
		return 1
	}
	debug.SetMemoryLimit(memory / 4)
	in, out := os.NewFile(3, "requests"), os.NewFile(4, "replies")
	if in == nil || out == nil {
		fmt.Fprintln(os.Stderr, "serving engine: no request or reply pipe")
		return 1
	}
	ctx := context.Background()
	s, err := OpenServing(ctx, ServingConfig{Threads: threads, MemoryLimit: strconv.FormatInt(memory/4>>20, 10) + "MiB"}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serving engine:", err)
		return 1
	}
	e := &engine{s: s, enc: gob.NewEncoder(out), reqs: map[uint64]*engineTask{}}
	if err := e.reply(&engineReply{Kind: replyReady}); err != nil {
		return 1
	}
	dec := gob.NewDecoder(in)
	for {
		var r engineRequest
		if err := dec.Decode(&r); err != nil {
			break // Shoal closed the pipe, or ended
		}
		e.handle(&r)
	}
	e.mu.Lock()
	for _, t := range e.reqs {
		t.cancel()
	}
	e.mu.Unlock()
	e.wg.Wait()
	s.Close()
	return 0
}

// engine is the engine process's state: the serving database and its
// running requests.
type engine struct {
	s     *Serving
	encMu sync.Mutex
	enc   *gob.Encoder
	wg    sync.WaitGroup

	mu   sync.Mutex
	reqs map[uint64]*engineTask
}

// engineTask is one running request.
type engineTask struct {
	cancel context.CancelFunc
	done   chan struct{}       // closed when the request has ended
	fetch  chan struct{}       // a query's requests for its next batch
	rows   chan *engineRequest // a publication's rows, table ends and abort
}

// reply sends r. A reply that cannot be sent leaves Shoal waiting and the
// stream unusable: the engine exits (and is restarted) instead.
func (e *engine) reply(r *engineReply) error {
	e.encMu.Lock()
	defer e.encMu.Unlock()
	if err := e.enc.Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "serving engine: reply:", err)
		os.Exit(2)
	}
	return nil
}

func (e *engine) fail(id uint64, err error) {
	code, msg := StateInternal, err.Error()
	if se, ok := err.(*ServingError); ok { //nolint:errorlint // ServingErrors are not wrapped here
		code = se.Code
	}
	e.reply(&engineReply{Kind: replyError, ID: id, Code: code, Msg: msg}) //nolint:errcheck // Shoal has gone
}

func (e *engine) start(id uint64, t *engineTask, run func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel, t.done = cancel, make(chan struct{})
	e.mu.Lock()
	e.reqs[id] = t
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer func() {
			e.mu.Lock()
			delete(e.reqs, id)
			e.mu.Unlock()
			cancel()
			close(t.done)
		}()
		run(ctx)
	}()
}

func (e *engine) task(id uint64) *engineTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reqs[id]
}

func (e *engine) handle(r *engineRequest) {
	switch r.Op {
	case opDescribe:
		e.start(r.ID, &engineTask{}, func(ctx context.Context) {
			names, types, params, err := e.s.Describe(ctx, r.Query)
			if err != nil {
				e.fail(r.ID, err)
				return
			}
			e.reply(&engineReply{Kind: replyDescribe, ID: r.ID, Names: names, Types: types, Params: params}) //nolint:errcheck // Shoal has gone
		})
	case opQuery:
		t := &engineTask{fetch: make(chan struct{}, 1)}
		e.start(r.ID, t, func(ctx context.Context) { e.query(ctx, r, t) })
	case opFetch:
		if t := e.task(r.ID); t != nil && t.fetch != nil {
			select {
			case t.fetch <- struct{}{}:
			default:
			}
		}
	case opCancel:
		if t := e.task(r.ID); t != nil {
			t.cancel()
		}
	case opPublish:
		t := &engineTask{rows: make(chan *engineRequest, 4)}
		e.start(r.ID, t, func(ctx context.Context) { e.publish(ctx, r, t) })
	case opPublishRows, opPublishTable, opPublishAbort:
		if t := e.task(r.ID); t != nil && t.rows != nil {
			select {
			case t.rows <- r:
			case <-t.done: // the publication failed; Shoal hears it from its reply
			}
		}
	}
}

// batchBytes is about how many bytes of values a batch of rows carries.
const batchBytes = 256 << 10

func (e *engine) query(ctx context.Context, r *engineRequest, t *engineTask) {
	args := fromEngineValues(r.Args)
	rows, err := e.s.Query(ctx, r.Query, args, r.MaxRows, r.MaxBytes)
	if err != nil {
		e.fail(r.ID, err)
		return
	}
	defer rows.Close()
	names, types := rows.Columns()
	if err := e.reply(&engineReply{Kind: replyColumns, ID: r.ID, Names: names, Types: types}); err != nil {
		return
	}
	for {
		select {
		case <-t.fetch:
		case <-ctx.Done():
			e.fail(r.ID, &ServingError{Code: StateQueryCanceled, Msg: "query cancelled"})
			return
		}
		var batch [][]engineValue
		size := 0
		done := true
		for rows.Next() {
			vals, err := toEngineValues(rows.Values())
			if err != nil {
				e.fail(r.ID, err)
				return
			}
			batch = append(batch, vals)
			for _, v := range vals {
				size += 8 + len(v.S)
			}
			if size >= batchBytes || len(batch) >= 4096 {
				done = false
				break
			}
		}
		if err := rows.Err(); err != nil {
			e.fail(r.ID, err)
			return
		}
		if err := e.reply(&engineReply{Kind: replyRows, ID: r.ID, Rows: batch, Done: done}); err != nil || done {
			return
		}
	}
}

func (e *engine) publish(ctx context.Context, r *engineRequest, t *engineTask) {
	tables := make([]ServingTable, len(r.Tables))
	for i, sch := range r.Tables {
		tables[i] = ServingTable{Name: sch.Name, Columns: sch.Columns, Fill: func(add func([]any) error) error {
			for {
				var m *engineRequest
				select {
				case m = <-t.rows:
				case <-ctx.Done():
					return ctx.Err()
				}
				switch m.Op {
				case opPublishAbort:
					return errAborted
				case opPublishTable:
					return nil
				}
				for _, row := range m.Rows {
					if err := add(fromEngineValues(row)); err != nil {
						return err
					}
				}
			}
		}}
	}
	if err := e.s.Publish(ctx, tables); err != nil {
		e.fail(r.ID, err)
		return
	}
	e.reply(&engineReply{Kind: replyOK, ID: r.ID}) //nolint:errcheck // Shoal has gone
}
