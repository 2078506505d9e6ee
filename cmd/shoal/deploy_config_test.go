package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/shoal-analytics/shoal/app"
)

// TestDeployConfigsParse feeds the settings of deploy/compose and
// deploy/kubernetes through the real flag / SHOAL_* / YAML parsing and
// validation of `shoal run`: what a platform team deploys starts.
func TestDeployConfigsParse(t *testing.T) {
	parse := func(t *testing.T, args []string) app.Config {
		t.Helper()
		if len(args) == 0 || args[0] != "run" {
			t.Fatalf("args %v do not start with run", args)
		}
		cfg := app.DefaultConfig("data")
		fs := newFlagSet("run", runSummary, io.Discard, io.Discard)
		cfg.RegisterFlags(fs)
		fs.Bool("once", false, "")
		if err := parseLayered(fs, args[1:], &cfg, &cfg.ConfigFile); err != nil {
			t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
		}
		if err := cfg.Validate(true); err != nil {
			t.Fatalf("shoal %s: %v", strings.Join(args, " "), err)
		}
		if !strings.HasPrefix(cfg.HTTPAddr, "0.0.0.0:") || len(cfg.Brokers) == 0 {
			t.Errorf("http-addr %q (want 0.0.0.0:...), brokers %v (want external Kafka)", cfg.HTTPAddr, cfg.Brokers)
		}
		return cfg
	}

	t.Run("compose", func(t *testing.T) {
		var c struct {
			Services map[string]struct {
				Command     []string          `yaml:"command"`
				Environment map[string]string `yaml:"environment"`
			} `yaml:"services"`
		}
		readDeployYAML(t, "../../deploy/compose/compose.yaml", &c)
		s := c.Services["shoal"]
		for k, v := range s.Environment {
			t.Setenv(k, v)
		}
		cfg := parse(t, s.Command)
		if cfg.PseudonymKeyFile != "/run/secrets/shoal_pseudonym_key" || cfg.DataDir != "/var/lib/shoal" || cfg.Teams != "/etc/shoal/teams.yaml" {
			t.Errorf("compose config: %+v", cfg)
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		readDeployYAML(t, "../../deploy/kubernetes/configmap.yaml", &cm)
		dir := t.TempDir()
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, []byte(cm.Data["config.yaml"]), 0o644); err != nil {
			t.Fatal(err)
		}
		var sts struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args []string `yaml:"args"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		readDeployYAML(t, "../../deploy/kubernetes/statefulset.yaml", &sts)
		args := sts.Spec.Template.Spec.Containers[0].Args
		for i, a := range args {
			if strings.HasPrefix(a, "--config=") {
				args[i] = "--config=" + path // the ConfigMap's file, where the test can read it
			}
		}
		cfg := parse(t, args)
		if cfg.PseudonymKeyFile != "/var/run/secrets/shoal/pseudonym.key" || cfg.DataDir != "/var/lib/shoal/data" {
			t.Errorf("kubernetes config: %+v", cfg)
		}
	})

	t.Run("Dockerfile CMD", func(t *testing.T) {
		b, err := os.ReadFile("../../Dockerfile")
		if err != nil {
			t.Fatal(err)
		}
		var cmd []string
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "CMD "); ok {
				if err := yaml.Unmarshal([]byte(rest), &cmd); err != nil {
					t.Fatalf("CMD %s: %v", rest, err)
				}
			}
		}
		t.Setenv("SHOAL_BROKERS", "kafka:9092") // what compose or Kubernetes adds
		t.Setenv("SHOAL_PSEUDONYM_KEY_FILE", "/run/secrets/key")
		parse(t, cmd)
	})
}

func readDeployYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
