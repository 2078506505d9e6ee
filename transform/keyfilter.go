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

// stagedMayBeStored reports whether a key of the staged batch may be in
// event_keys, and returns the batch's hashes for remember.
func (s *Store) stagedMayBeStored(ctx context.Context) (bool, []uint64, error) {
	if s.keys == nil {
		return true, nil, nil
	}
	hs, err := s.hashes(ctx, `SELECT `+hashExpr+` FROM staging`)
	if err != nil {
		return true, nil, fmt.Errorf("hash the batch's keys: %w", err)
	}
	if len(hs) > keyFilterMaxBatch {
		// Some key of a large batch is a false positive anyway (0.3 %
		// each): scan; its keys are added after the commit all the same.
		return true, hs, nil
	}
	for _, x := range hs {
		if s.keys.mayHold(x) {
			return true, hs, nil
		}
	}
	return false, hs, nil
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
			s.keys = nil
		}
	}
}
