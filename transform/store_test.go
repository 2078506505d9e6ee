package transform

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/shoal-analytics/shoal/event"
	"github.com/shoal-analytics/shoal/outcome"
	"github.com/shoal-analytics/shoal/privacy"
)

func TestOpenIsIdempotentAndPersists(t *testing.T) {
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	ctx := context.Background()
	var g ids
	for i := range 3 {
		s, err := Open(ctx, Config{Path: path}, nil)
		if err != nil {
			t.Fatalf("open #%d: %v", i, err)
		}
		commit(t, s, mem, g.ev(event.TaskCreated, i, 9, task("k1"), who(1)))
		n, err := s.EventCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(i+1) {
			t.Fatalf("open #%d: %d events, want %d", i, n, i+1)
		}
		if got := len(teamDays(t, s)); got != i+1 {
			t.Fatalf("open #%d: %d team_day rows, want %d", i, got, i+1)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}

// TestEventsTable checks that events has exactly event.Schema's columns,
// types and nullability, and that the Arrow view is not persisted.
func TestEventsTable(t *testing.T) {
	s, _ := openStore(t)
	rows, err := s.db.Query(`SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_name = 'events' AND table_schema = 'main' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	duckType := map[arrow.Type]string{
		arrow.STRING: "VARCHAR", arrow.TIMESTAMP: "TIMESTAMP", arrow.DATE32: "DATE",
		arrow.FLOAT64: "DOUBLE", arrow.INT32: "INTEGER", arrow.INT64: "BIGINT",
	}
	var got, want []string
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ+" "+nullable)
	}
	for _, f := range event.Schema.Fields() {
		n := "NO"
		if f.Nullable {
			n = "YES"
		}
		want = append(want, f.Name+" "+duckType[f.Type.ID()]+" "+n)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events columns\n got %v\nwant %v", got, want)
	}
	var where string
	if err := s.db.QueryRow(`SELECT database_name FROM duckdb_views() WHERE view_name = ?`, viewName).Scan(&where); err != nil {
		t.Fatal(err)
	}
	if where != scratchDB {
		t.Fatalf("arrow view %s is in database %s, want the in-memory %s", viewName, where, scratchDB)
	}
	var inFile int
	if err := s.db.QueryRow(`SELECT count(*) FROM duckdb_views() WHERE NOT internal AND database_name <> ?`, scratchDB).Scan(&inFile); err != nil {
		t.Fatal(err)
	}
	if inFile != 0 {
		t.Fatalf("%d views in the database file, want none", inFile)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.duckdb")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "held.duckdb")
	s, err := Open(context.Background(), Config{Path: held}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr error
		wantMsg []string
	}{
		{"no path", Config{}, ErrNoPath, []string{"transform config"}},
		{"directory", Config{Path: dir}, nil, []string{"open duckdb file " + dir}},
		{"missing directory", Config{Path: filepath.Join(dir, "nope", "x.duckdb")}, nil, []string{"nope/x.duckdb", "check the path"}},
		{"not a duckdb file", Config{Path: garbage}, nil, []string{garbage}},
		{"bad memory limit", Config{Path: filepath.Join(dir, "m.duckdb"), MemoryLimit: "1 parsec"}, ErrBadMemoryLimit, nil},
		{"held by this process", Config{Path: held}, ErrLocked, []string{held, "another shoal process may be running; stop it or use another --data-dir"}},
		{"held via another spelling", Config{Path: filepath.Join(dir, ".", "held.duckdb")}, ErrLocked, nil},
		{"held via a symlinked directory", Config{Path: filepath.Join(link, "held.duckdb")}, ErrLocked, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.cfg, nil)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v, want errors.Is %v", err, tc.wantErr)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
	// A failed Open must not leave the path claimed.
	s2, err := Open(context.Background(), Config{Path: filepath.Join(dir, "m.duckdb")}, nil)
	if err != nil {
		t.Fatalf("open after failed open: %v", err)
	}
	s2.Close()
}

// TestOpenLockedByAnotherProcess holds a file in a child process (this test
// binary re-executed) and checks that Open refuses it with a clear message.
func TestOpenLockedByAnotherProcess(t *testing.T) {
	if path := os.Getenv("SHOAL_TRANSFORM_HOLD"); path != "" {
		s, err := Open(context.Background(), Config{Path: path}, nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("holding")
		var b [1]byte
		os.Stdin.Read(b[:]) // until the parent closes stdin
		s.Close()
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "SHOAL_TRANSFORM_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	buf := make([]byte, 256)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "holding") {
		t.Fatalf("child did not open the store: %q", buf[:n])
	}
	s, err := Open(context.Background(), Config{Path: path}, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file held by another process succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("error %v, want ErrLocked", err)
	}
	for _, m := range []string{path, "another shoal process may be running; stop it or use another --data-dir"} {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func TestDedup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches [][]string // event ids per batch (all: created event of task "k"+id)
		want    []event.CommitResult
		events  int64
	}{
		{"distinct", [][]string{{"a", "b"}, {"c"}}, []event.CommitResult{{Inserted: 2, CellsTouched: 1}, {Inserted: 1, CellsTouched: 1}}, 3},
		{"within batch", [][]string{{"a", "a", "b", "a"}}, []event.CommitResult{{Inserted: 2, Duplicates: 2, CellsTouched: 1}}, 2},
		{"across batches", [][]string{{"a", "b"}, {"b", "a"}}, []event.CommitResult{{Inserted: 2, CellsTouched: 1}, {Duplicates: 2}}, 2},
		{"mixed", [][]string{{"a"}, {"a", "b", "b"}}, []event.CommitResult{{Inserted: 1, CellsTouched: 1}, {Inserted: 1, Duplicates: 2, CellsTouched: 1}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			s, _ := openStore(t)
			var off int64
			for i, batch := range tc.batches {
				var evs []event.Event
				for _, id := range batch {
					off++
					evs = append(evs, event.Event{Source: "jira", ID: id, Type: event.TaskCreated,
						Time: at(0, float64(off)), Day: day0, Team: "t1", Task: "k" + id, Offset: off})
				}
				if got := commit(t, s, mem, evs...); got != tc.want[i] {
					t.Errorf("batch %d: %+v, want %+v", i, got, tc.want[i])
				}
			}
			n, _ := s.EventCount(context.Background())
			if n != tc.events {
				t.Errorf("%d events stored, want %d", n, tc.events)
			}
		})
	}
}

// TestDuplicateChangesNothing re-sends event ids with different content: a
// different type, day, team and person. Nothing may change.
func TestDuplicateChangesNothing(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	var g ids
	first := []event.Event{
		g.ev(event.TaskCreated, 0, 9, task("k1"), who(1)),
		g.ev(event.TaskCompleted, 1, 9, task("k1"), who(1)),
	}
	commit(t, s, mem, first...)
	before := teamDays(t, s)

	resent := []event.Event{
		g.ev(event.TaskReopened, 2, 9, task("k1"), who(2), withID(first[1].ID)),
		g.ev(event.TimeLogged, 5, 9, team("t2"), who(3), logged("focus", 2), withID(first[0].ID)),
	}
	res := commit(t, s, mem, resent...)
	if want := (event.CommitResult{Duplicates: 2}); res != want {
		t.Fatalf("re-send: %+v, want %+v", res, want)
	}
	if after := teamDays(t, s); !reflect.DeepEqual(before, after) {
		t.Fatalf("re-sent events changed team_day:\nbefore %+v\nafter  %+v", before, after)
	}
	// The same (source, id) from another source is a different event.
	other := first[0]
	other.Source = "github"
	if res := commit(t, s, mem, other); res.Inserted != 1 {
		t.Fatalf("same id from another source: %+v, want 1 inserted", res)
	}
}

// TestDedupKeepsLowestOffset: within a batch the copy with the lowest
// (partition, offset) wins, whatever the record order.
func TestDedupKeepsLowestOffset(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	late := event.Event{Source: "s", ID: "x", Type: event.TaskCreated, Time: at(3, 9), Day: day0 + 3, Team: "t1", Task: "k", Partition: 1, Offset: 5}
	early := late
	early.Partition, early.Offset, early.Time, early.Day = 0, 9, at(1, 9), day0+1
	commit(t, s, mem, late, early)
	tds := teamDays(t, s)
	if len(tds) != 1 || tds[0].Day != day0+1 {
		t.Fatalf("team_day %+v, want one cell on day0+1", tds)
	}
}

func TestOffsets(t *testing.T) {
	mem := checkedMem(t)
	path := filepath.Join(t.TempDir(), "shoal.duckdb")
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		topic string
		off   map[int32]int64
	}{
		{"a", map[int32]int64{0: 10, 1: 5}},
		{"a", map[int32]int64{0: 20}},
		{"a", map[int32]int64{1: 3}}, // backwards: ignored
		{"b", map[int32]int64{0: 7}},
	}
	for _, st := range steps {
		if _, err := s.Commit(ctx, &event.Batch{Topic: st.topic, Offsets: st.off}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(s *Store) {
		t.Helper()
		for topic, want := range map[string]map[int32]int64{"a": {0: 20, 1: 5}, "b": {0: 7}, "c": {}} {
			got, err := s.Offsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("offsets of %s = %v, want %v", topic, got, want)
			}
		}
	}
	check(s)
	var g ids
	if res := commit(t, s, mem, g.ev(event.TaskCreated, 0, 1, task("k"))); res.Inserted != 1 {
		t.Fatal(res)
	}
	s.Close()
	s, err = Open(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := s.Offsets(ctx, "shoal.events")
	if want := map[int32]int64{0: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("offsets after reopen = %v, want %v", got, want)
	}
	check(s)
}

func TestRejections(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	for _, rej := range [][]event.Rejected{
		{{Day: day0, Reason: "invalid", Count: 2}, {Day: day0, Reason: "surveillance", Count: 1}},
		{{Day: day0, Reason: "invalid", Count: 3}, {Day: day0 + 1, Reason: "invalid", Count: 4}, {Day: day0 + 1, Reason: "invalid", Count: 1}},
		{{Day: day0, Reason: "too_large", Count: 0}},
	} {
		if _, err := s.Commit(ctx, &event.Batch{Rejected: rej}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Rejections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int64{"invalid": 10, "surveillance": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Rejections() = %v, want %v", got, want)
	}
	var perDay int64
	if err := s.db.QueryRow(`SELECT events FROM rejections WHERE day = DATE '2025-03-04' AND reason = 'invalid'`).Scan(&perDay); err != nil || perDay != 5 {
		t.Fatalf("invalid on 2025-03-04 = %d (%v), want 5", perDay, err)
	}
	q, err := s.Quality(ctx, day0, day0+1)
	if err != nil {
		t.Fatal(err)
	}
	wantQ := []outcome.QualityDay{
		{Day: day0, Rejected: map[string]int64{"invalid": 5, "surveillance": 1}},
		{Day: day0 + 1, Rejected: map[string]int64{"invalid": 5}},
	}
	if !reflect.DeepEqual(q, wantQ) {
		t.Fatalf("Quality() = %+v, want %+v", q, wantQ)
	}
	if q, _ := s.Quality(ctx, day0+1, day0+1); len(q) != 1 || q[0].Day != day0+1 {
		t.Fatalf("Quality(day0+1) = %+v, want only day0+1", q)
	}
}

// snapshot is everything a failed commit must leave unchanged.
type snapshot struct {
	Events     int64
	Offsets    map[int32]int64
	Rejections map[string]int64
	TeamDays   []TeamDay
	Tasks      int64
	Requests   int64
	People     int64
}

func takeSnapshot(t *testing.T, s *Store) snapshot {
	t.Helper()
	ctx := context.Background()
	var sn snapshot
	var err error
	if sn.Events, err = s.EventCount(ctx); err != nil {
		t.Fatal(err)
	}
	if sn.Offsets, err = s.Offsets(ctx, "shoal.events"); err != nil {
		t.Fatal(err)
	}
	if sn.Rejections, err = s.Rejections(ctx); err != nil {
		t.Fatal(err)
	}
	sn.TeamDays = teamDays(t, s)
	for table, n := range map[string]*int64{"tasks": &sn.Tasks, "requests": &sn.Requests, "team_day_people": &sn.People} {
		if err := s.db.QueryRow(`SELECT count(*) FROM ` + table).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	return sn
}

// allCommitSteps lists every step name Commit can fail in.
func allCommitSteps() []string {
	names := []string{stepResetScratch.name, stepStage.name, stepPseudonyms.name, stepDedupBatch.name, stepKnown.name, stepDedup.name, stepInsert.name, stepInsertKeys.name}
	for _, st := range batchSteps {
		names = append(names, st.name)
	}
	return append(names, stepOffsets.name, stepRejections.name, stepCommit)
}

// TestFailedCommitLeavesNothing fails a commit in every possible way and
// checks that no part of it is visible, and that the Store keeps working.
func TestFailedCommitLeavesNothing(t *testing.T) {
	injected := errors.New("injected failure")
	type failure struct {
		name  string
		setup func(s *Store, cancel context.CancelFunc) // arranges the failure
		batch func(mem memory.Allocator, good arrow.Record) arrow.Record
		isErr error
	}
	var failures []failure
	for _, name := range allCommitSteps() {
		failures = append(failures, failure{
			name: "fail at " + name,
			setup: func(s *Store, _ context.CancelFunc) {
				s.failpoint = func(step string) error {
					if step == name {
						return injected
					}
					return nil
				}
			},
			isErr: injected,
		})
	}
	failures = append(failures,
		failure{
			name: "context cancelled after the last step",
			setup: func(s *Store, cancel context.CancelFunc) {
				s.failpoint = func(step string) error {
					if step == stepRejections.name {
						cancel()
					}
					return nil
				}
			},
			isErr: context.Canceled,
		},
		failure{
			name:  "context cancelled before",
			setup: func(_ *Store, cancel context.CancelFunc) { cancel() },
			isErr: context.Canceled,
		},
		failure{
			name: "record with another schema",
			batch: func(mem memory.Allocator, _ arrow.Record) arrow.Record {
				sc := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.BinaryTypes.String}}, nil)
				b := array.NewRecordBuilder(mem, sc)
				defer b.Release()
				b.Field(0).(*array.StringBuilder).Append("x")
				return b.NewRecord()
			},
			isErr: ErrBadBatch,
		},
		failure{
			name: "null team violates NOT NULL",
			batch: func(mem memory.Allocator, good arrow.Record) arrow.Record {
				sb := array.NewStringBuilder(mem)
				defer sb.Release()
				for i := 0; i < int(good.NumRows()); i++ {
					if i == 1 {
						sb.AppendNull()
					} else {
						sb.Append("t1")
					}
				}
				teamCol := sb.NewArray()
				defer teamCol.Release()
				cols := append([]arrow.Array(nil), good.Columns()...)
				cols[5] = teamCol
				return array.NewRecord(event.Schema, cols, good.NumRows())
			},
		},
		failure{
			name: "raw person id",
			batch: func(mem memory.Allocator, _ arrow.Record) arrow.Record {
				return record(mem, []event.Event{{Source: "s", ID: "raw", Type: event.TaskCreated, Time: at(0, 1), Day: day0,
					Team: "t1", Task: "k", Person: "alice@example.com"}})
			},
			isErr: ErrNotPseudonym,
		},
	)

	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			mem := checkedMem(t)
			s, _ := openStore(t)
			s.keysOff = true // every step runs: the stored keys are scanned even for new ones
			var g ids
			// Existing state the failed batch would change.
			commit(t, s, mem,
				g.ev(event.TaskCreated, 0, 9, task("k1"), who(1)),
				g.ev(event.RequestOpened, 0, 9, request("r1"), who(1)))
			if _, err := s.Commit(context.Background(), &event.Batch{Rejected: []event.Rejected{{Day: day0, Reason: "invalid", Count: 1}}}); err != nil {
				t.Fatal(err)
			}
			before := takeSnapshot(t, s)

			good := record(mem, []event.Event{
				g.ev(event.TaskCompleted, 1, 9, task("k1"), who(2)),
				g.ev(event.TaskCreated, 1, 10, task("k2"), who(3)),
				g.ev(event.RequestResponded, 2, 9, request("r1"), who(2)),
				g.ev(event.TimeLogged, 2, 9, who(4), logged("focus", 1)),
			})
			defer good.Release()
			rec := good
			if f.batch != nil {
				rec = f.batch(mem, good)
				defer rec.Release()
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if f.setup != nil {
				f.setup(s, cancel)
			}
			_, err := s.Commit(ctx, &event.Batch{Record: rec, Topic: "shoal.events", Offsets: map[int32]int64{0: 100, 3: 7},
				Rejected: []event.Rejected{{Day: day0, Reason: "invalid", Count: 5}, {Day: day0, Reason: "surveillance", Count: 1}}})
			if err == nil {
				t.Fatal("Commit succeeded, want an error")
			}
			if f.isErr != nil && !errors.Is(err, f.isErr) {
				t.Fatalf("Commit error %v, want errors.Is %v", err, f.isErr)
			}
			if f.name == "raw person id" && strings.Contains(err.Error(), "alice") {
				t.Fatalf("error leaks the raw person id: %v", err)
			}
			if after := takeSnapshot(t, s); !reflect.DeepEqual(before, after) {
				t.Fatalf("failed commit changed the store:\nbefore %+v\nafter  %+v", before, after)
			}

			// The Store keeps working, and the retried batch has its full effect.
			s.failpoint = nil
			res, err := s.Commit(context.Background(), &event.Batch{Record: good, Topic: "shoal.events", Offsets: map[int32]int64{0: 100}})
			if err != nil {
				t.Fatalf("commit after failure: %v", err)
			}
			if res.Inserted != 4 || res.Duplicates != 0 {
				t.Fatalf("commit after failure: %+v, want 4 inserted", res)
			}
			if c := cell(t, s, "t1", 1); c.TasksCompleted != 1 || c.TasksCreated != 1 {
				t.Fatalf("day 1 after retry: %+v", c)
			}
		})
	}
}

func TestPseudonymPattern(t *testing.T) {
	p, err := privacy.NewPseudonymizer([]byte(strings.Repeat("k", privacy.MinKeyBytes)))
	if err != nil {
		t.Fatal(err)
	}
	mem := checkedMem(t)
	s, _ := openStore(t)
	for i, tc := range []struct {
		person string
		ok     bool
	}{
		{p.Pseudonym("alice@example.com"), true},
		{person(7), true},
		{"p_0123456789ABCDEF01234567", true},
		{"alice@example.com", false},
		{"p_0123", false},
		{"p_0123456789abcdef0123456z", false},
		{"xp_0123456789abcdef01234567", false},
		{"p_0123456789abcdef01234567\n", false},
	} {
		if privacy.IsPseudonym(tc.person) != tc.ok {
			t.Fatalf("case %d: test table disagrees with privacy.IsPseudonym(%q)", i, tc.person)
		}
		rec := record(mem, []event.Event{{Source: "s", ID: fmt.Sprint(i), Type: event.TaskCreated, Time: at(0, 1), Day: day0, Team: "t", Task: "k", Person: tc.person}})
		_, err := s.Commit(context.Background(), &event.Batch{Record: rec})
		rec.Release()
		if tc.ok != (err == nil) {
			t.Errorf("case %d: Commit error = %v, want accepted %v", i, err, tc.ok)
		}
	}
}

func TestConcurrentReadersDuringCommits(t *testing.T) {
	mem := checkedMem(t)
	s, _ := openStore(t)
	ctx := context.Background()
	var g ids
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tds, err := s.TeamDays(ctx)
				if err == nil {
					// Every visible row is from a whole batch: 10 events each.
					for _, td := range tds {
						if td.Events%10 != 0 {
							err = fmt.Errorf("partial batch visible: %+v", td)
						}
					}
				}
				if err == nil {
					_, err = s.EventCount(ctx)
				}
				if err == nil {
					_, err = s.TeamContributors(ctx, day0, day0+10)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range 30 {
		var evs []event.Event
		for range 10 {
			evs = append(evs, g.ev(event.TaskBlocked, i%3, 9, task("k"), who(i%4)))
		}
		commit(t, s, mem, evs...)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.LastCommit().IsZero() || time.Since(s.LastCommit()) > time.Minute {
		t.Fatalf("LastCommit() = %v", s.LastCommit())
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "x.duckdb")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !s.LastCommit().IsZero() {
		t.Fatal("LastCommit before any commit is not zero")
	}
	s.Close()
	if _, err := s.Commit(context.Background(), &event.Batch{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Commit after Close: %v, want ErrClosed", err)
	}
	if err := s.Rebuild(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Rebuild after Close: %v, want ErrClosed", err)
	}
}

// TestCheckpointThreshold: the configured WAL size reaches DuckDB's
// writer connection, and empty means DefaultCheckpointThreshold.
func TestCheckpointThreshold(t *testing.T) {
	setting := func(threshold string) string {
		s, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "x.duckdb"), CheckpointThreshold: threshold}, nil)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		var v string
		if err := s.conn.QueryRowContext(context.Background(), "SELECT current_setting('checkpoint_threshold')").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	def, explicit, small := setting(""), setting(DefaultCheckpointThreshold), setting("64MB")
	if def != explicit {
		t.Errorf("empty threshold gives %q, %s gives %q", def, DefaultCheckpointThreshold, explicit)
	}
	if small == def {
		t.Errorf("64MB gives %q, the same as the default", small)
	}
}

// TestUnreplayableWALIsSetAside: a write-ahead log DuckDB cannot replay
// (as a kill mid-write can leave) does not keep Shoal from starting: Open
// moves it aside, opens the last checkpoint, and the store is consistent
// there (the lost batch's offsets went with its events, so Kafka replays
// it) and takes commits again.
func TestUnreplayableWALIsSetAside(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "shoal.duckdb")
	s, err := Open(ctx, Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	commit(t, s, mem, g.ev(event.TaskCreated, 0, 9, task("k1"), who(1)))
	if err := s.Close(); err != nil { // checkpoints: k1 is in the file
		t.Fatal(err)
	}
	if s, err = Open(ctx, Config{Path: path}, nil); err != nil {
		t.Fatal(err)
	}
	commit(t, s, mem, g.ev(event.TaskCreated, 1, 9, task("k2"), who(2)))
	// The "crash": copy the file and its log while the store is open (k2
	// is only in the log), then damage an entry of the copied log.
	crashed := filepath.Join(dir, "crashed.duckdb")
	for _, ext := range []string{"", ".wal"} {
		b, err := os.ReadFile(path + ext)
		if err != nil {
			t.Fatalf("read %s: %v", path+ext, err)
		}
		if ext == ".wal" {
			if len(b) < 100 {
				t.Fatalf("the log holds %d bytes: k2 was checkpointed, nothing to damage", len(b))
			}
			b[len(b)/2] ^= 0xff
		}
		if err := os.WriteFile(crashed+ext, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	c, err := Open(ctx, Config{Path: crashed}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Open with a damaged log: %v", err)
	}
	defer c.Close()
	if n, err := c.EventCount(ctx); err != nil || n != 1 {
		t.Errorf("after setting the log aside: %d events (%v), want 1 (the last checkpoint)", n, err)
	}
	if !strings.Contains(logs.String(), "write-ahead log could not be replayed") || !strings.Contains(logs.String(), "moved_to=") {
		t.Errorf("no warning about the log:\n%s", logs.String())
	}
	aside, _ := filepath.Glob(crashed + ".wal.unreplayable-*")
	if len(aside) != 1 {
		t.Errorf("log kept aside: %v, want one file", aside)
	}
	commit(t, c, mem, g.ev(event.TaskCreated, 1, 9, task("k2"), who(2))) // Kafka's redelivery
	if n, _ := c.EventCount(ctx); n != 2 {
		t.Errorf("after redelivery: %d events, want 2", n)
	}
}

// TestCheckpoint: Checkpoint empties the write-ahead log into the file (a
// copy of the file alone then holds the batch), reports the log's size, and
// does nothing when the log is empty; commits go on afterwards.
func TestCheckpoint(t *testing.T) {
	mem := checkedMem(t)
	ctx := context.Background()
	s, path := openStore(t)
	if _, err := s.Checkpoint(ctx); err != nil { // the schema may be in the log
		t.Fatalf("Checkpoint of a fresh store: %v", err)
	}
	var g ids
	commit(t, s, mem, g.ev(event.TaskCreated, 0, 9, task("k1"), who(1)))
	n, err := s.Checkpoint(ctx)
	if err != nil || n == 0 {
		t.Fatalf("Checkpoint after a commit: %d, %v; want the log's size, nil", n, err)
	}
	if fi, err := os.Stat(path + ".wal"); err == nil && fi.Size() > 0 {
		t.Errorf("the log still holds %d bytes after the checkpoint", fi.Size())
	}
	if n, err := s.Checkpoint(ctx); err != nil || n != 0 {
		t.Errorf("second Checkpoint: %d, %v; want 0, nil", n, err)
	}
	// The file alone (no log) holds the batch.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "copy.duckdb")
	if err := os.WriteFile(copied, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Open(ctx, Config{Path: copied}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.EventCount(ctx); err != nil || n != 1 {
		t.Errorf("copy of the checkpointed file: %d events (%v), want 1", n, err)
	}
	c.Close()
	commit(t, s, mem, g.ev(event.TaskCreated, 1, 9, task("k2"), who(2)))
	if n, _ := s.EventCount(ctx); n != 2 {
		t.Errorf("after the checkpoint and a commit: %d events, want 2", n)
	}
}

// TestScanStepsRaiseThreads: with the default threads, the steps that scan
// a stored table and every step of a derivation run with all the cores, every other step with
// DefaultThreads, and DuckDB is back at DefaultThreads after a commit, also
// one that failed in a scan step. An explicit thread count is kept
// throughout.
func TestScanStepsRaiseThreads(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 cores: with 1, DefaultThreads is all of them")
	}
	ctx := context.Background()
	threads := func(s *Store) int {
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT current_setting('threads')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	mem := checkedMem(t)
	var g ids
	evs := []event.Event{
		g.ev(event.TaskCreated, 0, 9, task("T-1"), who(1)),
		g.ev(event.RequestOpened, 0, 9, request("R-1"), who(2)),
		g.ev(event.TimeLogged, 0, 10, who(1), logged("focus", 2)),
	}
	for _, tc := range []struct {
		threads      int
		scan, others int
	}{
		{0, runtime.NumCPU(), DefaultThreads()},
		{1, 1, 1},
	} {
		s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "shoal.duckdb"), Threads: tc.threads, DeriveEvents: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.keysOff = true                                  // the stored keys are scanned too
		seen := map[bool]map[int]int{true: {}, false: {}} // scan step? -> threads -> steps
		// On all the cores: a landing step that scans a stored table, and
		// every step of a derivation.
		scans := map[string]bool{stepKnown.name: true, stepResetScratch.name: true, stepClearPending.name: true}
		for _, st := range pendingSteps {
			scans[st.name] = true
		}
		s.failpoint = func(step string) error {
			seen[scans[step]][threads(s)]++
			return nil
		}
		commit(t, s, mem, evs...)
		want := map[bool]map[int]int{true: {tc.scan: seen[true][tc.scan]}, false: {tc.others: seen[false][tc.others]}}
		if !reflect.DeepEqual(seen, want) || seen[true][tc.scan] < 8 {
			t.Errorf("threads %d: threads per step kind (scan or derive, or not) %v, want those at %d, the rest at %d", tc.threads, seen, tc.scan, tc.others)
		}
		if got := threads(s); got != tc.others {
			t.Errorf("threads %d: %d DuckDB threads after the commit, want %d", tc.threads, got, tc.others)
		}
		injected := errors.New("injected")
		s.failpoint = func(step string) error {
			if step == stepKnown.name {
				return injected
			}
			return nil
		}
		rec := record(mem, []event.Event{g.ev(event.TaskStarted, 0, 11, task("T-1"), who(1))})
		if _, err := s.Commit(ctx, &event.Batch{Record: rec}); !errors.Is(err, injected) {
			t.Errorf("threads %d: commit error %v, want the injected one", tc.threads, err)
		}
		rec.Release()
		if got := threads(s); got != tc.others {
			t.Errorf("threads %d: %d DuckDB threads after a commit failed in a scan step, want %d", tc.threads, got, tc.others)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenRefusesRawIDs: a file from a Shoal that stored raw task and
// request ids (no keyed_ids mark, raw ids in events) is refused by Open
// with ErrRawIDs and left as it was; a file without the mark whose ids are
// keyed, or that has no task or request ids, opens and is marked.
func TestOpenRefusesRawIDs(t *testing.T) {
	ctx := context.Background()
	mem := checkedMem(t)
	p, err := privacy.NewPseudonymizer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	var g ids
	// oldFile writes evs to a new file and removes the mark, as a file
	// of a Shoal before keyed ids would be.
	oldFile := func(evs ...event.Event) string {
		path := filepath.Join(t.TempDir(), "shoal.duckdb")
		s, err := Open(ctx, Config{Path: path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		commit(t, s, mem, evs...)
		if _, err := s.db.Exec(`DELETE FROM shoal_meta WHERE name = '` + keyedIDsMeta + `'`); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name string
		evs  []event.Event
		ok   bool
	}{
		{"raw task ids", []event.Event{g.ev(event.TaskCreated, 0, 9, task("ORCA-101")), g.ev(event.TaskCompleted, 1, 9, task("ORCA-101"), who(1))}, false},
		{"raw request ids", []event.Event{g.ev(event.RequestOpened, 0, 9, request("acme/orca/pull/7"))}, false},
		{"keyed ids", []event.Event{
			g.ev(event.TaskCreated, 0, 9, task(p.TaskID([]byte("ORCA-101")))),
			g.ev(event.RequestOpened, 0, 9, request(p.RequestID([]byte("acme/orca/pull/7"))))}, true},
		{"no task or request ids", []event.Event{g.ev(event.TimeLogged, 0, 9, who(1), logged("focus", 1))}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := oldFile(tc.evs...)
			s, err := Open(ctx, Config{Path: path}, nil)
			if !tc.ok {
				if !errors.Is(err, ErrRawIDs) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty one") {
					t.Fatalf("Open = %v, want ErrRawIDs naming the file and what to do", err)
				}
				if s != nil {
					t.Fatal("Open returned a store with its error")
				}
				// Refused, not changed: the file still opens the same way.
				if _, err := Open(ctx, Config{Path: path}, nil); !errors.Is(err, ErrRawIDs) {
					t.Fatalf("second Open = %v, want ErrRawIDs again", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var marked int
			if err := s.db.QueryRow(`SELECT count(*) FROM shoal_meta WHERE name = '` + keyedIDsMeta + `'`).Scan(&marked); err != nil || marked != 1 {
				t.Errorf("the file is not marked as keyed: %d, %v", marked, err)
			}
		})
	}
}
