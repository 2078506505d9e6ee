package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/shoal-analytics/shoal/app"
)

// runPhase runs one measurement in this (child) process and prints
// its result as JSON on stdout; its log goes to stderr.
func runPhase(ctx context.Context, f Config, stdout, stderr io.Writer) error {
	level, err := app.ParseLevel(f.LogLevel)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if f.Brokers == "" || f.WorkDir == "" {
		return errors.New("--phase is internal to `shoal bench`: it needs --brokers and --work-dir")
	}
	brokers := []string{f.Brokers}
	if f.ProfileDir != "" {
		prof, err := os.Create(filepath.Join(f.ProfileDir, f.Phase+".pprof"))
		if err != nil {
			return fmt.Errorf("create CPU profile: %w", err)
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
		stop := keepPeakHeapProfile(filepath.Join(f.ProfileDir, f.Phase+".heap.pprof"), logger)
		defer stop()
	}
	if f.Phase != "ceiling" && f.Phase != "naive" && f.Phase != "readjson" {
		// Shoal's phases, also those that open the store without a pipeline.
		if err := app.SetGoMemoryLimit(f.Tuning.GoMemoryLimit); err != nil {
			return err
		}
	}
	var r result
	switch f.Phase {
	case "ceiling":
		r, err = runCeiling(ctx, brokers, logger)
	case "shoal":
		r, err = runShoal(ctx, brokers, f.WorkDir, f.Tuning, logger)
	case "naive":
		r, err = runNaive(ctx, brokers, f.WorkDir, f.NaiveEvents)
	case "readjson":
		r, err = runReadJSON(ctx, f.WorkDir)
	case "stage":
		r, err = runStage(ctx, brokers, f.WorkDir, f.Tuning, logger)
	case "sql":
		r, err = runSQL(ctx, brokers, f.WorkDir, f.Tuning, logger)
	case "stream":
		r, err = runStream(ctx, brokers, f.WorkDir, f.StreamSeconds, f.Tuning, logger)
	case "absorb":
		r, err = runAbsorb(ctx, brokers, f.WorkDir, f.Absorb, f.Tuning, logger)
	default:
		return fmt.Errorf("unknown phase %q", f.Phase)
	}
	if err != nil {
		return err
	}
	r.Phase = f.Phase
	return json.NewEncoder(stdout).Encode(r)
}

// median sorts xs (an odd number of timings) and returns the middle one.
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// newKey is a fresh pseudonym key per phase.
func newKey() []byte {
	key := make([]byte, 32)
	rand.Read(key)
	return key
}

// keepPeakHeapProfile samples the Go heap every second and writes a pprof
// heap profile to path each time the heap in use is the largest so far:
// what held the memory at the phase's peak (as of the garbage collection
// before it). stop ends the sampling.
func keepPeakHeapProfile(path string, logger *slog.Logger) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var peak uint64
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse <= peak {
				continue
			}
			peak = m.HeapInuse
			var buf bytes.Buffer
			err := pprof.Lookup("heap").WriteTo(&buf, 0)
			if err == nil {
				err = os.WriteFile(path, buf.Bytes(), 0o640)
			}
			if err != nil {
				logger.Warn("cannot write the heap profile", "path", path, "err", err)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

// goSysMiB is the memory the Go runtime holds from the OS (heap, stacks,
// its own structures): the part of the RSS that is not DuckDB's.
func goSysMiB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.Sys) / (1 << 20)
}

// peakRSSKiB is this process's peak resident set so far (VmHWM).
func peakRSSKiB() (int64, bool) { return procStatusKiB("VmHWM") }

// rssKiB is this process's resident set now (VmRSS).
func rssKiB() (int64, bool) { return procStatusKiB("VmRSS") }

// procStatusKiB reads one of /proc/self/status's sizes in kB.
func procStatusKiB(field string) (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var kib int64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			return kib, err == nil
		}
	}
	return 0, false
}
