package transform

import (
	"database/sql/driver"
	"fmt"
	"sync"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/marcboeker/go-duckdb"

	"github.com/shoal-analytics/shoal/event"
)

// batchView is the one Arrow view through which batches enter DuckDB.
//
// Two measured go-duckdb v1.8.2 facts shape it:
//
//   - DuckDB's C arrow scan replaces the stream's release callback with a
//     no-op, and go-duckdb's release func only frees the C struct, so a
//     reader passed to RegisterView is retained and never released. Per
//     batch that leaks the reader, its records and a cgo handle. So the view
//     is registered once per Store over a batchReader whose Retain and
//     Release are no-ops; the Store hands it one record per scan and takes
//     it back afterwards. The caller keeps ownership of its record: the only
//     references DuckDB takes are the exported arrays, which it releases when
//     the scanning statement ends.
//   - A query that reads only some columns of the view crashes or returns
//     garbage, so the view is only ever read with INSERT INTO staging
//     SELECT * FROM view.
//
// The view itself lives in an in-memory database attached for the purpose
// (see registerView in store.go), never in the database file.
type batchView struct {
	name    string
	reader  *batchReader
	release func()
}

func registerBatchView(dc driver.Conn, name string) (*batchView, error) {
	ar, err := duckdb.NewArrowFromConn(dc)
	if err != nil {
		return nil, fmt.Errorf("arrow interface: %w", err)
	}
	r := &batchReader{}
	release, err := ar.RegisterView(r, name)
	if err != nil {
		return nil, fmt.Errorf("register arrow view %s: %w", name, err)
	}
	return &batchView{name: name, reader: r, release: release}, nil
}

// batchReader is an array.RecordReader of event.Schema that yields the
// record set by feed once, then reports the end of the stream until the
// next feed. DuckDB calls it from its worker threads during a scan.
type batchReader struct {
	mu      sync.Mutex
	pending arrow.Record
	cur     arrow.Record
}

// feed makes rec the content of the next scan; feed(nil) empties the view.
func (r *batchReader) feed(rec arrow.Record) {
	r.mu.Lock()
	r.pending, r.cur = rec, nil
	r.mu.Unlock()
}

// Retain is a no-op: the Store owns the reader (see batchView).
func (r *batchReader) Retain() {}

// Release is a no-op: the Store owns the reader (see batchView).
func (r *batchReader) Release() {}

func (r *batchReader) Schema() *arrow.Schema { return event.Schema }

func (r *batchReader) Next() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur, r.pending = r.pending, nil
	return r.cur != nil
}

func (r *batchReader) Record() arrow.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

func (r *batchReader) Err() error { return nil }
