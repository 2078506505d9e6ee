package synth

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

func TestZZScale(t *testing.T) {
	o := Options{Seed: 1, Teams: 4000, Units: 100, People: 33000, End: time.Date(2025, 3, 14, 15, 0, 0, 0, time.UTC)}
	t0 := time.Now()
	n, bad, size := 0, 0, 0
	var ms runtime.MemStats
	var peak uint64
	_, err := GenerateTo(o, func(m Message) error {
		n++
		size += len(m.Value)
		if m.Bad != "" {
			bad++
		}
		if n%1000000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	fmt.Println(err, n, bad, size>>20, "MiB", time.Since(t0), "peak heap", peak>>20, "MiB")
}
