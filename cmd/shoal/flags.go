package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// envName is the environment variable that overrides a flag:
// --dlq-topic → SHOAL_DLQ_TOPIC.
func envName(flagName string) string {
	return "SHOAL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseLayered parses args into the flags of fs, with this precedence:
// command-line flag > SHOAL_* environment variable > YAML file named by the
// flag "config" (decoded strictly into yamlTarget) > default.
func parseLayered(fs *flag.FlagSet, args []string, yamlTarget any, configPath *string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags start with --; see --help)", fs.Arg(0))
	}
	onCLI := map[string]string{}
	fs.Visit(func(f *flag.Flag) { onCLI[f.Name] = f.Value.String() })

	path := *configPath
	if path == "" {
		path = os.Getenv(envName("config"))
	}
	if path != "" && yamlTarget != nil {
		if err := decodeYAMLFile(path, yamlTarget); err != nil {
			return err
		}
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if _, set := onCLI[f.Name]; set {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("environment %s=%q: %w", envName(f.Name), v, err))
			}
		}
	})
	for name, v := range onCLI { // the YAML file must not override the command line
		if err := fs.Set(name, v); err != nil {
			errs = append(errs, fmt.Errorf("flag --%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// decodeYAMLFile decodes path into v, refusing unknown keys; errors name the
// file and line.
func decodeYAMLFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // empty file: all defaults
		}
		return fmt.Errorf("config file %s: %s (keys are the flag names with _ instead of -, e.g. dlq_topic)", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}
