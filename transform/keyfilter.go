package transform

import (
	"context"
	"fmt"
	"math/bits"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// keyFilter is a Bloom filter over the dedup keys in event_keys (as
// DuckDB's 64-bit hash() of each key): a batch none of whose keys it might
// hold is new without scanning event_keys, which is the one step of a
// landing commit whose cost grows with the store (14.7 ms of a 20-event
// commit at 1 M stored events, BenchmarkCommit). It never answers "not
// stored" for a stored key: it is filled from event_keys at Open and with
// every committed batch's keys, and keys deleted from event_keys
// (retention, a rebuild after an erasure) only stay in it as false
// positives. A batch with a possible hit scans event_keys as before.
//
// The filter is built at Open and dropped when a large batch commits: a
// catch-up, whose batches always scan, neither keeps it up to date nor
// holds its memory, and the first small batch after it builds it again
// with one read of event_keys (about 0.4 s per million keys; 8-9 s of CPU
// at 20 M, once).
//
// 12 bits and 8 probes per key: about 0.3 % false positives at capacity,
// which is half as many keys again as stored when it is built (45 MiB for
// 20 M stored keys). Past its capacity it is rebuilt from event_keys.
type keyFilter struct {
	words    []uint64
	m        uint64 // bits
	n, limit int64  // keys added, capacity
}

const (
	keyFilterBitsPerKey = 12
	keyFilterProbes     = 8
	keyFilterMinKeys    = 1 << 20
	// keyFilterMaxBatch is the largest batch the filter is asked about.
	keyFilterMaxBatch = 5_000
	// keyFilterChunk is how many keys one read at Open materializes.
	keyFilterChunk = 2_000_000
)

func newKeyFilter(capacity int64) *keyFilter {
	capacity = max(capacity, keyFilterMinKeys)
	words := (capacity*keyFilterBitsPerKey + 63) / 64
	return &keyFilter{words: make([]uint64, words), m: uint64(words) * 64, limit: capacity}
}

// probes calls f with each bit of x (double hashing over x's two halves).
func (f *keyFilter) probes(x uint64, each func(bit uint64) bool) bool {
	h1, h2 := x, bits.RotateLeft64(x, 32)|1
	for i := range uint64(keyFilterProbes) {
		if !each((h1 + i*h2) % f.m) {
			return false
		}
	}
	return true
}

func (f *keyFilter) add(x uint64) {
	f.probes(x, func(b uint64) bool { f.words[b/64] |= 1 << (b % 64); return true })
	f.n++
}

func (f *keyFilter) mayHold(x uint64) bool {
	return f.probes(x, func(b uint64) bool { return f.words[b/64]&(1<<(b%64)) != 0 })
}

// hashExpr is what the filter holds of a key h.
const hashExpr = `CAST(hash(h) >> 1 AS BIGINT)` // 63 bits: BIGINT has no room for the 64th

// loadKeyFilter builds the filter from event_keys, a chunk of rows at a
// time, for half as many keys again as are stored (Open, and when it is
// full).
func (s *Store) loadKeyFilter(ctx context.Context) error {
	var n, maxRow int64
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*), coalesce(max(rowid), -1) FROM event_keys`).Scan(&n, &maxRow); err != nil {
		return fmt.Errorf("count event keys: %w", err)
	}
	f := newKeyFilter(n + n/2)
	for lo := int64(0); lo <= maxRow; lo += keyFilterChunk {
		hs, err := s.hashes(ctx, `SELECT `+hashExpr+` FROM event_keys WHERE rowid >= ? AND rowid < ?`, lo, lo+keyFilterChunk)
		if err != nil {
			return fmt.Errorf("read event keys: %w", err)
		}
		for _, x := range hs {
			f.add(x)
		}
	}
	s.keys = f
	return nil
}

// hashes runs q (one BIGINT column) on the write connection through
// DuckDB's Arrow export.
func (s *Store) hashes(ctx context.Context, q string, args ...any) ([]uint64, error) {
	var out []uint64
	err := arrowRecords(ctx, s.conn, q, args, func(rec arrow.Record) error {
		col, ok := rec.Column(0).(*array.Int64)
		if !ok {
			return fmt.Errorf("hash column is %s, not int64", rec.Column(0).DataType())
		}
		for _, v := range col.Int64Values() {
			out = append(out, uint64(v))
		}
		return nil
	})
	return out, err
}

// landed is what a commit reads back of its staged batch (landedKeys):
// each row's key hash and day, whether two hashes are equal (then two
// keys may be, and the batch is deduplicated in SQL), and whether the
// filter may hold one of them (then event_keys is scanned). Without a
// filter, both are true and nothing is read.
type landed struct {
	hashes               []uint64
	days                 []int32
	repeats, mayBeStored bool
}

// exact reports whether the staged rows will all be stored: no key to
// drop, so counts over days are the batch's new events.
func (l landed) exact() bool { return l.hashes != nil && !l.repeats && !l.mayBeStored }

// through counts the rows dated on or before day.
func (l landed) through(day int32) int64 {
	var n int64
	for _, d := range l.days {
		if d <= day {
			n++
		}
	}
	return n
}

// landedKeys reads the staged batch's key hashes and days (one read) and
// asks the filter about them.
func (s *Store) landedKeys(ctx context.Context) (landed, error) {
	if s.keysOff {
		return landed{repeats: true, mayBeStored: true}, nil
	}
	var l landed
	err := arrowRecords(ctx, s.conn, `SELECT `+hashExpr+`, CAST(day - DATE '1970-01-01' AS INTEGER) FROM staging`, nil, func(rec arrow.Record) error {
		hs, ok1 := rec.Column(0).(*array.Int64)
		ds, ok2 := rec.Column(1).(*array.Int32)
		if !ok1 || !ok2 {
			return fmt.Errorf("hash and day columns are %s and %s, not int64 and int32", rec.Column(0).DataType(), rec.Column(1).DataType())
		}
		for _, v := range hs.Int64Values() {
			l.hashes = append(l.hashes, uint64(v))
		}
		l.days = append(l.days, ds.Int32Values()...)
		return nil
	})
	if err != nil {
		return landed{}, fmt.Errorf("hash the batch's keys: %w", err)
	}
	if l.hashes == nil {
		l.hashes = []uint64{}
	}
	seen := make(map[uint64]struct{}, len(l.hashes))
	for _, x := range l.hashes {
		if _, ok := seen[x]; ok {
			l.repeats = true
			break
		}
		seen[x] = struct{}{}
	}
	if len(l.hashes) > keyFilterMaxBatch {
		// Some key of a large batch is a false positive anyway (0.3 %
		// each): scan, and drop the filter (see keyFilter).
		l.mayBeStored, s.keys = true, nil
		return l, nil
	}
	if s.keys == nil {
		if err := s.loadKeyFilter(ctx); err != nil {
			s.logger.Warn("the dedup key filter could not be built; commits scan the stored keys", "err", err)
			s.keysOff, l.mayBeStored = true, true
			return l, nil
		}
	}
	for _, x := range l.hashes {
		if s.keys.mayHold(x) {
			l.mayBeStored = true
			break
		}
	}
	return l, nil
}

// remember adds a committed batch's key hashes to the filter, and
// rebuilds it larger once it is past its capacity. A failed rebuild drops
// the filter (every commit then scans event_keys, as without one).
func (s *Store) remember(ctx context.Context, hs []uint64) {
	if s.keys == nil {
		return
	}
	for _, x := range hs {
		s.keys.add(x)
	}
	if s.keys.n > s.keys.limit {
		if err := s.loadKeyFilter(ctx); err != nil {
			s.logger.Warn("the dedup key filter could not be rebuilt; commits scan the stored keys", "err", err)
			s.keys, s.keysOff = nil, true
		}
	}
}
