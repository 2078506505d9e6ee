package transform

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr error  // errors.Is target, or nil
		wantMsg string // substring of the message, or "" for no error
	}{
		{name: "minimal", cfg: Config{Path: "shoal.duckdb"}},
		{name: "all set", cfg: Config{Path: "/data/shoal.duckdb", Threads: 4, MemoryLimit: "2GB"}},
		{name: "memory limit with space and binary unit", cfg: Config{Path: "x", MemoryLimit: "512 MiB"}},
		{name: "empty path", cfg: Config{}, wantErr: ErrNoPath, wantMsg: "set the duckdb path"},
		{name: "blank path", cfg: Config{Path: "  "}, wantErr: ErrNoPath, wantMsg: "duckdb path must not be empty"},
		{name: "question mark in path", cfg: Config{Path: "a?b"}, wantMsg: "must not contain '?'"},
		{name: "negative threads", cfg: Config{Path: "x", Threads: -1}, wantErr: ErrBadThreads, wantMsg: "got -1"},
		{name: "memory limit without number", cfg: Config{Path: "x", MemoryLimit: "lots"}, wantErr: ErrBadMemoryLimit, wantMsg: `"lots" is not a size`},
		{name: "memory limit percent", cfg: Config{Path: "x", MemoryLimit: "80%"}, wantErr: ErrBadMemoryLimit, wantMsg: "e.g. 2GB"},
		{name: "checkpoint threshold", cfg: Config{Path: "x", CheckpointThreshold: "1GB"}},
		{name: "checkpoint threshold without unit size", cfg: Config{Path: "x", CheckpointThreshold: "often"}, wantErr: ErrBadCheckpoint, wantMsg: `"often" is not a size; use a number with a unit, e.g. 64MB`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Validate() = %v, want message containing %q", err, tc.wantMsg)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Validate() = %v, want errors.Is %v", err, tc.wantErr)
			}
		})
	}
}

func TestConfigRegisterFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.RegisterFlags("duckdb.", fs)
	if err := fs.Parse([]string{"-duckdb.path=/tmp/x.duckdb", "-duckdb.threads=3", "-duckdb.memory-limit=1GB", "-duckdb.checkpoint-threshold=256MB"}); err != nil {
		t.Fatal(err)
	}
	want := Config{Path: "/tmp/x.duckdb", Threads: 3, MemoryLimit: "1GB", CheckpointThreshold: "256MB"}
	if cfg != want {
		t.Fatalf("flags gave %+v, want %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
