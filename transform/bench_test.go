package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/shoal-analytics/shoal/event"
)

const benchBatch = 50_000

// benchEvents returns n events numbered first..first+n-1 shaped like a real
// stream: 50 teams, 500 people, the day advancing every 20k events with
// some events up to 3 days late, each task and request getting a handful of
// events spread over batches, and half the events time entries. With
// revisions, the time entries carry entry ids (revision: their sequence
// number) and one in ten is a new revision of an entry up to 30k events
// earlier, often of an earlier batch, on another day or team.
func benchEvents(r *rand.Rand, first, n int, revisions bool) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		seq := first + i
		d := seq/20_000 - r.IntN(4)
		e := event.Event{
			Source: "bench", ID: fmt.Sprintf("%016x", mix(uint64(seq))), // random-looking, like real ids
			Time: at(d, 8+10*r.Float64()), Day: day0 + int32(d),
			Team:   fmt.Sprintf("team-%02d", r.IntN(50)),
			Person: person(r.IntN(500)), Partition: int32(seq % 6), Offset: int64(seq),
		}
		switch x := r.IntN(20); {
		case x < 10:
			e.Type, e.Category = event.TimeLogged, event.Categories[r.IntN(len(event.Categories))]
			e.Start, e.End = e.Time, e.Time.Add(time.Duration(r.IntN(240))*time.Minute)
			if revisions {
				e.Entry, e.Revision = fmt.Sprintf("x%d", seq), int64(seq)
				if r.IntN(10) == 0 {
					e.Entry = fmt.Sprintf("x%d", max(0, seq-r.IntN(30_000)))
				}
			}
		case x < 17:
			e.Type = []string{event.TaskCreated, event.TaskStarted, event.TaskCompleted, event.TaskBlocked,
				event.TaskUnblocked, event.TaskCompleted, event.TaskReopened}[x-10]
			e.Task = fmt.Sprintf("k%d", (seq-r.IntN(30_000))/6)
			if e.Type == event.TaskCreated {
				e.Kind, e.DueDate, e.HasDueDate = "feature", e.Day+int32(r.IntN(10)), true
			}
		default:
			e.Type = []string{event.RequestOpened, event.RequestResponded, event.RequestResponded}[x-17]
			e.Request = fmt.Sprintf("r%d", (seq-r.IntN(20_000))/3)
		}
		evs[i] = e
	}
	return evs
}

// mix is splitmix64's finalizer: a bijection, so ids stay unique.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// stepTimer measures the CPU time of the steps of commits through the
// failpoint hook.
type stepTimer struct {
	last  time.Duration
	name  string
	total map[string]time.Duration
}

func (st *stepTimer) hook(name string) error {
	now := cpuTime()
	if st.name != "" {
		st.total[st.name] += now - st.last
	}
	st.name, st.last = name, now
	return nil
}

// end closes the last step of a commit.
func (st *stepTimer) end() { st.hook(""); st.name = "" }

func (st *stepTimer) String() string {
	type kv struct {
		k string
		v time.Duration
	}
	var all []kv
	for k, v := range st.total {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var b strings.Builder
	for _, x := range all[:min(8, len(all))] {
		fmt.Fprintf(&b, "%s=%v ", x.k, x.v.Round(time.Millisecond))
	}
	return b.String()
}

func preload(b *testing.B, s *Store, mem memory.Allocator, r *rand.Rand, n int, revisions bool) {
	b.Helper()
	for first := 0; first < n; first += benchBatch {
		commit(b, s, mem, benchEvents(r, first, benchBatch, revisions)...)
	}
}

// BenchmarkCommit commits 50k-event batches into a store that starts empty
// or with 1M events already stored, 1k-event batches into one with 1M
// (derived after every commit), and 20-event batches (a trickle, derived
// every 1,200 events) into one with 1M; the revisions cases with time
// entries that carry entry ids and are corrected (benchEvents).
func BenchmarkCommit(b *testing.B) {
	for _, bc := range []struct {
		batch, stored int
		revisions     bool
	}{{benchBatch, 0, false}, {benchBatch, 1_000_000, false}, {1000, 1_000_000, false}, {20, 1_000_000, false}, {benchBatch, 1_000_000, true}, {1000, 1_000_000, true}} {
		batch, stored, revisions := bc.batch, bc.stored, bc.revisions
		name := fmt.Sprintf("batch=%d/stored=%d", batch, stored)
		if revisions {
			name += "/revisions"
		}
		b.Run(name, func(b *testing.B) {
			mem := checkedMem(b)
			s, _ := openStore(b)
			r := rand.New(rand.NewPCG(1, 2))
			preload(b, s, mem, r, stored, revisions)
			if batch < 1000 {
				// A trickle (20 events a second in 20-event batches, say):
				// derived once 1,200 events wait, the derivations' CPU
				// included.
				s.deriveEvents, s.deriveAfter = 1200, time.Hour
			}
			st := &stepTimer{total: map[string]time.Duration{}}
			s.failpoint = st.hook
			next := stored
			var elapsed, cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				rec := record(mem, benchEvents(r, next, batch, revisions))
				next += batch
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				res, err := s.Commit(context.Background(), &event.Batch{Record: rec, Topic: "t", Offsets: map[int32]int64{0: int64(next)}})
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				st.end()
				b.StopTimer()
				rec.Release()
				if err != nil || res.Inserted != int64(batch) {
					b.Fatalf("commit: %+v, %v", res, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/batch")
			b.Logf("most CPU-hungry steps over %d commits: %s", b.N, st)
		})
	}
}

// BenchmarkRebuild rebuilds all state from 1M stored events.
func BenchmarkRebuild(b *testing.B) {
	mem := checkedMem(b)
	s, _ := openStore(b)
	preload(b, s, mem, rand.New(rand.NewPCG(1, 2)), 1_000_000, false)
	b.ResetTimer()
	for range b.N {
		if err := s.Rebuild(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*1e6/b.Elapsed().Seconds(), "events/s")
}

// cpuTime is the user+system CPU time of this process (all DuckDB threads
// included): a less noisy measure than wall time on a shared machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompact measures what an erasure's compaction costs: the whole
// file copied, live rows only, into a new one. The store holds 1M events
// committed as a stream, copied in SQL up to SHOAL_BENCH_COMPACT_EVENTS
// (default 1M; BENCHMARKS.md and docs/privacy.md quote 20M).
func BenchmarkCompact(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SHOAL_BENCH_COMPACT_EVENTS")); err == nil && v > n {
		n = v
	}
	mem := checkedMem(b)
	s, path := openStore(b)
	preload(b, s, mem, rand.New(rand.NewPCG(1, 2)), 1_000_000, false)
	for copies := 1; copies*1_000_000 < n; copies++ {
		if _, err := s.conn.ExecContext(context.Background(), fmt.Sprintf(`INSERT INTO events SELECT * REPLACE (id || '-%d' AS id) FROM events WHERE NOT contains(id, '-')`, copies)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.conn.ExecContext(context.Background(), `DELETE FROM event_keys; INSERT INTO event_keys SELECT `+keyExpr+` FROM events; CHECKPOINT`); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		cpu0 := cpuTime()
		if err := s.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpu0
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/compaction")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/compaction")
	b.ReportMetric(float64(fi.Size())/(1<<20), "file-MiB")
	b.Logf("%d events, a %d MiB file", n, fi.Size()>>20)
}
