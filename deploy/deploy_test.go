package deploy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/dashboards"
	"github.com/shoal-analytics/shoal/ingest"
	"github.com/shoal-analytics/shoal/metrics"
)

// runFlags are the flags of `shoal run`, from the help golden file that
// cmd/shoal's TestHelp keeps equal to the real --help output.
func runFlags(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../cmd/shoal/testdata/help-run.golden")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  -([a-z0-9.-]+)`).FindAllStringSubmatch(string(b), -1) {
		flags[m[1]] = true
	}
	if !flags["brokers"] || !flags["pseudonym-key-file"] {
		t.Fatalf("could not read the run flags from the golden file: %v", flags)
	}
	return flags
}

// envFlag maps SHOAL_DLQ_TOPIC to dlq-topic.
func envFlag(env string) (string, bool) {
	name, ok := strings.CutPrefix(env, "SHOAL_")
	return strings.ToLower(strings.ReplaceAll(name, "_", "-")), ok
}

// argFlags returns the flag names of --name=value / --name value args.
func argFlags(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			out = append(out, name)
		}
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// readDocs decodes every YAML document of path.
func readDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       map[string]string `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestCompose: the compose file parses; every service has a health check
// and waits for what it needs; Shoal is configured only with flags `shoal
// run` has, binds 0.0.0.0, uses the compose Kafka, reads its key from a
// secret and keeps DuckDB on a named volume; Grafana gets the provisioning
// and the generated dashboards where the provider looks.
func TestCompose(t *testing.T) {
	var c composeFile
	readYAML(t, "compose/compose.yaml", &c)
	for _, name := range []string{"kafka", "shoal", "prometheus", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose has no %s service", name)
		}
	}
	for name, s := range c.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("service %s depends on unknown service %s", name, dep)
			}
			if d.Condition == "" {
				t.Errorf("service %s depends on %s without a condition", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("compose", src)); err != nil {
					t.Errorf("service %s mounts %s, which does not exist: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts named volume %s, which is not declared", name, src)
			}
		}
	}
	kafka := c.Services["kafka"]
	if !strings.HasPrefix(kafka.Image, "apache/kafka:") || !strings.Contains(kafka.Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Errorf("kafka is not Apache Kafka in KRaft mode: %s %v", kafka.Image, kafka.Environment)
	}

	shoal := c.Services["shoal"]
	flags := runFlags(t)
	// The HTTP endpoint has users (a secret), and Prometheus scrapes with
	// the password (another secret) that prometheus.yml names.
	if !contains(shoal.Command, "--web-config-file=/run/secrets/shoal_web_config") || !contains(shoal.Secrets, "shoal_web_config") || c.Secrets["shoal_web_config"].File == "" {
		t.Errorf("shoal's HTTP endpoint has no web config from a secret: command %v, secrets %v", shoal.Command, shoal.Secrets)
	}
	var promCfg struct {
		ScrapeConfigs []struct {
			JobName   string `yaml:"job_name"`
			BasicAuth struct {
				Username     string `yaml:"username"`
				PasswordFile string `yaml:"password_file"`
			} `yaml:"basic_auth"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus.yml", &promCfg)
	for _, sc := range promCfg.ScrapeConfigs {
		if sc.JobName == "shoal" && (sc.BasicAuth.PasswordFile != "/run/secrets/prometheus_shoal_password" || !contains(c.Services["prometheus"].Secrets, "prometheus_shoal_password")) {
			t.Errorf("Prometheus scrapes Shoal without the password secret: %+v", sc.BasicAuth)
		}
	}
	if len(shoal.Command) == 0 || shoal.Command[0] != "run" {
		t.Errorf("shoal command %v does not start with run", shoal.Command)
	}
	for _, f := range argFlags(shoal.Command) {
		if !flags[f] {
			t.Errorf("shoal command passes --%s, which `shoal run --help` does not list", f)
		}
	}
	settings := map[string]string{}
	for k, v := range shoal.Environment {
		f, ok := envFlag(k)
		if !ok || !flags[f] {
			t.Errorf("shoal environment %s is not SHOAL_<a run flag>", k)
		}
		settings[f] = v
	}
	for _, a := range shoal.Command {
		if name, v, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok {
			settings[name] = v
		}
	}
	if !strings.HasPrefix(settings["http-addr"], "0.0.0.0:") {
		t.Errorf("shoal http-addr %q: a container must listen on 0.0.0.0", settings["http-addr"])
	}
	if settings["brokers"] != "kafka:9092" {
		t.Errorf("shoal brokers %q, want the compose kafka:9092", settings["brokers"])
	}
	if _, ok := settings["embedded-addr"]; ok {
		t.Error("shoal sets --embedded-addr, which is unused with --brokers")
	}
	key := settings["pseudonym-key-file"]
	if !strings.HasPrefix(key, "/run/secrets/") {
		t.Errorf("pseudonym key %q does not come from a compose secret", key)
	} else {
		secret := strings.TrimPrefix(key, "/run/secrets/")
		if _, ok := c.Secrets[secret]; !ok || !contains(shoal.Secrets, secret) {
			t.Errorf("secret %s is not declared and given to shoal", secret)
		}
	}
	if !volumeAt(shoal.Volumes, settings["data-dir"]) {
		t.Errorf("shoal data dir %q is not on a volume: %v", settings["data-dir"], shoal.Volumes)
	}
	if !strings.Contains(strings.Join(shoal.Healthcheck.Test, " "), "/readyz") {
		t.Errorf("shoal healthcheck %v does not use /readyz", shoal.Healthcheck.Test)
	}
	if shoal.DependsOn["kafka"].Condition != "service_healthy" {
		t.Error("shoal does not wait for a healthy kafka")
	}
	teamsMount := ""
	for _, v := range shoal.Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == settings["teams"] {
			teamsMount = parts[0]
		}
	}
	if teamsMount == "" {
		t.Errorf("the teams file %s is not mounted", settings["teams"])
	} else {
		parseTeams(t, filepath.Join("compose", teamsMount))
	}

	prom := c.Services["prometheus"]
	if !volumeAt(prom.Volumes, "/prometheus") {
		t.Error("prometheus data is not on a volume")
	}
	grafana := c.Services["grafana"]
	var provider struct {
		Providers []struct {
			Options struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/shoal.yaml", &provider)
	if len(provider.Providers) != 1 {
		t.Fatalf("dashboard providers: %+v", provider)
	}
	mounts := map[string]string{}
	for _, v := range grafana.Volumes {
		parts := strings.Split(v, ":")
		mounts[parts[0]] = parts[1]
	}
	if mounts["../grafana/provisioning"] != "/etc/grafana/provisioning" {
		t.Errorf("grafana does not mount the provisioning: %v", grafana.Volumes)
	}
	if mounts["../grafana/dashboards"] != provider.Providers[0].Options.Path {
		t.Errorf("grafana mounts the dashboards at %q, the provider reads %q", mounts["../grafana/dashboards"], provider.Providers[0].Options.Path)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// volumeAt reports whether a named volume is mounted at path.
func volumeAt(vols []string, path string) bool {
	for _, v := range vols {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == path && !strings.HasPrefix(parts[0], ".") && !strings.HasPrefix(parts[0], "/") {
			return true
		}
	}
	return false
}

func parseTeams(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agreements.Parse(path, b); err != nil {
		t.Errorf("teams file %s is refused by Shoal:\n%v", path, err)
	}
}

// TestKubernetes: every manifest parses; Shoal is a one-replica
// StatefulSet with a volume claim for DuckDB, probes on /healthz and
// /readyz, scrape annotations on its port, a config and teams file from the
// ConfigMap and the pseudonym key from a Secret; the Service selects it.
func TestKubernetes(t *testing.T) {
	files, _ := filepath.Glob("kubernetes/*.yaml")
	byKind := map[string][]map[string]any{}
	for _, f := range files {
		for _, d := range readDocs(t, f) {
			kind, _ := d["kind"].(string)
			if kind == "" || d["apiVersion"] == nil {
				t.Errorf("%s: a document without kind or apiVersion", f)
			}
			byKind[kind] = append(byKind[kind], d)
		}
	}
	var k struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, "kubernetes/kustomization.yaml", &k)
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join("kubernetes", r)); err != nil {
			t.Errorf("kustomization lists %s: %v", r, err)
		}
	}

	ss := only(t, byKind, "StatefulSet")
	var sts struct {
		Spec struct {
			Replicas    int    `yaml:"replicas"`
			ServiceName string `yaml:"serviceName"`
			Template    struct {
				Metadata struct {
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"metadata"`
				Spec struct {
					SecurityContext struct {
						RunAsNonRoot bool `yaml:"runAsNonRoot"`
					} `yaml:"securityContext"`
					Containers []struct {
						Args []string `yaml:"args"`
						Env  []struct {
							Name, Value string
						} `yaml:"env"`
						Ports []struct {
							Name          string `yaml:"name"`
							ContainerPort int    `yaml:"containerPort"`
						} `yaml:"ports"`
						ReadinessProbe probe `yaml:"readinessProbe"`
						LivenessProbe  probe `yaml:"livenessProbe"`
						VolumeMounts   []struct {
							Name      string `yaml:"name"`
							MountPath string `yaml:"mountPath"`
						} `yaml:"volumeMounts"`
					} `yaml:"containers"`
					Volumes []struct {
						Name      string `yaml:"name"`
						ConfigMap *struct {
							Name string `yaml:"name"`
						} `yaml:"configMap"`
						Secret *struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
			VolumeClaimTemplates []struct {
				Metadata struct{ Name string } `yaml:"metadata"`
			} `yaml:"volumeClaimTemplates"`
		} `yaml:"spec"`
	}
	remarshal(t, ss, &sts)
	spec := sts.Spec
	if spec.Replicas != 1 {
		t.Errorf("StatefulSet replicas %d: DuckDB has one writer, run exactly 1", spec.Replicas)
	}
	if !spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Error("the pod may run as root")
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes: readiness %q, liveness %q", c.ReadinessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Path)
	}
	flags := runFlags(t)
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Errorf("args %v do not start with run", c.Args)
	}
	for _, f := range argFlags(c.Args) {
		if !flags[f] {
			t.Errorf("container passes --%s, which `shoal run --help` does not list", f)
		}
	}
	for _, e := range c.Env {
		if f, ok := envFlag(e.Name); ok && !flags[f] {
			t.Errorf("container env %s names no run flag", e.Name)
		}
	}
	mounts := map[string]string{} // path → volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}

	// The config file the container reads, from the ConfigMap.
	cm := only(t, byKind, "ConfigMap")
	var cmap struct {
		Metadata struct{ Name string }
		Data     map[string]string
	}
	remarshal(t, cm, &cmap)
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cmap.Data["config.yaml"]), &cfg); err != nil {
		t.Fatalf("ConfigMap config.yaml: %v", err)
	}
	settings := map[string]string{}
	for key, v := range cfg {
		f := strings.ReplaceAll(key, "_", "-")
		if !flags[f] {
			t.Errorf("config.yaml key %s is not a run flag (unknown keys are refused)", key)
		}
		settings[f], _ = v.(string)
	}
	if !strings.HasPrefix(settings["http-addr"], "0.0.0.0:") || settings["brokers"] == "" {
		t.Errorf("config.yaml: http_addr %q (want 0.0.0.0:...), brokers %q (want your Kafka)", settings["http-addr"], settings["brokers"])
	}
	if !contains(c.Args, "--config=/etc/shoal/config.yaml") || volumeOf(mounts, "/etc/shoal/config.yaml") == "" {
		t.Errorf("the container does not read the ConfigMap's config.yaml: args %v, mounts %v", c.Args, mounts)
	}
	parseTeamsData(t, cmap.Data["teams.yaml"])
	if volumeOf(mounts, settings["teams"]) == "" || !strings.HasPrefix(settings["teams"], "/etc/shoal/") {
		t.Errorf("teams %q is not in the ConfigMap mount", settings["teams"])
	}
	vols := map[string]string{} // volume → configMap or secret name
	for _, v := range spec.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			vols[v.Name] = "configmap/" + v.ConfigMap.Name
		case v.Secret != nil:
			vols[v.Name] = "secret/" + v.Secret.SecretName
		}
	}
	if vols[volumeOf(mounts, "/etc/shoal/config.yaml")] != "configmap/"+cmap.Metadata.Name {
		t.Errorf("/etc/shoal is not the ConfigMap %s: %v", cmap.Metadata.Name, vols)
	}
	if got := vols[volumeOf(mounts, settings["pseudonym-key-file"])]; !strings.HasPrefix(got, "secret/") {
		t.Errorf("the pseudonym key %s does not come from a Secret (volume: %q)", settings["pseudonym-key-file"], got)
	}
	claims := map[string]bool{}
	for _, vc := range spec.VolumeClaimTemplates {
		claims[vc.Metadata.Name] = true
	}
	if !claims[volumeOf(mounts, settings["data-dir"])] {
		t.Errorf("data dir %s is not on a PersistentVolumeClaim (mounts %v, claims %v)", settings["data-dir"], mounts, claims)
	}
	// A claim's root belongs to root (group fsGroup), and Shoal makes its
	// data dir 0700, which only the owner may: the data dir is one Shoal
	// creates inside the claim.
	if _, ok := mounts[settings["data-dir"]]; ok {
		t.Errorf("data dir %s is the claim's mount point; use a directory inside it, e.g. %s/data", settings["data-dir"], settings["data-dir"])
	}

	// The HTTP endpoint's users come from a Secret, and the port is the
	// container's: Prometheus scrapes it with the user (no open scrape
	// annotations: they cannot carry a password).
	port := ""
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = strconv.Itoa(p.ContainerPort)
		}
	}
	if !strings.HasSuffix(settings["http-addr"], ":"+port) {
		t.Errorf("http port %q, http_addr %q", port, settings["http-addr"])
	}
	if got := vols[volumeOf(mounts, settings["web-config-file"])]; got != "secret/shoal-web-config" {
		t.Errorf("the web config %q does not come from the Secret shoal-web-config (volume: %q)", settings["web-config-file"], got)
	}
	if ann := spec.Template.Metadata.Annotations; ann["prometheus.io/scrape"] == "true" {
		t.Error("scrape annotations are set: an annotation-driven scrape has no password and gets 401")
	}

	// Every Service selects the pod; one is the governing service.
	names := map[string]bool{}
	for _, s := range byKind["Service"] {
		var svc struct {
			Metadata struct{ Name string }
			Spec     struct{ Selector map[string]string }
		}
		remarshal(t, s, &svc)
		names[svc.Metadata.Name] = true
		for k, v := range svc.Spec.Selector {
			if spec.Template.Metadata.Labels[k] != v {
				t.Errorf("service %s selects %s=%s, the pod has %v", svc.Metadata.Name, k, v, spec.Template.Metadata.Labels)
			}
		}
	}
	if !names[spec.ServiceName] {
		t.Errorf("serviceName %s has no Service", spec.ServiceName)
	}
	// The Secret is an example only, never a committed key.
	for _, d := range readDocs(t, "kubernetes/secret.example.yaml") {
		data, _ := d["data"].(map[string]any)
		for k, v := range data {
			if s, _ := v.(string); !strings.HasPrefix(s, "REPLACE_") {
				t.Errorf("secret.example.yaml carries a value for %s: commit no key", k)
			}
		}
	}
	if contains(k.Resources, "secret.example.yaml") {
		t.Error("kustomization applies the example secret")
	}
}

type probe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
	} `yaml:"httpGet"`
}

// volumeOf returns the volume mounted at the directory holding path.
func volumeOf(mounts map[string]string, path string) string {
	for dir, v := range mounts {
		if path == dir || strings.HasPrefix(path, dir+"/") {
			return v
		}
	}
	return ""
}

func parseTeamsData(t *testing.T, data string) {
	t.Helper()
	if _, err := agreements.Parse("configmap teams.yaml", []byte(data)); err != nil {
		t.Errorf("the ConfigMap's teams.yaml is refused by Shoal:\n%v", err)
	}
}

func only(t *testing.T, byKind map[string][]map[string]any, kind string) map[string]any {
	t.Helper()
	if len(byKind[kind]) != 1 {
		t.Fatalf("want one %s, have %d", kind, len(byKind[kind]))
	}
	return byKind[kind][0]
}

func remarshal(t *testing.T, in any, out any) {
	t.Helper()
	b, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

// TestGrafanaDatasource: the provisioned datasource has the uid every
// generated dashboard references.
func TestGrafanaDatasource(t *testing.T) {
	var ds struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
			URL  string `yaml:"url"`
		}
	}
	readYAML(t, "grafana/provisioning/datasources/shoal.yaml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].UID != dashboards.DatasourceUID || ds.Datasources[0].Type != "prometheus" {
		t.Errorf("provisioned datasources %+v, want one prometheus with uid %s", ds.Datasources, dashboards.DatasourceUID)
	}
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboards under grafana/dashboards: run `make generate`")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, m := range regexp.MustCompile(`"uid":\s*"([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
			if m[1] != dashboards.DatasourceUID && !strings.HasPrefix(m[1], "shoal-") {
				t.Errorf("%s references uid %s", f, m[1])
			}
		}
	}
}

// TestDockerfile: multi-stage, cgo, Debian bookworm builder and slim
// runtime, a non-root user, a volume for the data, a Go at least go.mod's.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"FROM golang:1.26-bookworm AS build", "CGO_ENABLED=1", "FROM debian:bookworm-slim", "COPY --from=build", "VOLUME", "USER 10001", "libstdc++6"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	mod, _ := os.ReadFile("../go.mod")
	if m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod); m == nil || !strings.Contains(df, "golang:"+string(m[1])+"-") {
		t.Errorf("go.mod wants go %s; the builder image is not that Go", m)
	}
	cmd := regexp.MustCompile(`(?m)^CMD (.*)$`).FindStringSubmatch(df)
	if cmd == nil || !strings.Contains(cmd[1], `"run"`) || !strings.Contains(cmd[1], "0.0.0.0:") {
		t.Errorf("CMD %v: want run listening on 0.0.0.0", cmd)
	}
	flags := runFlags(t)
	for _, m := range regexp.MustCompile(`"--([a-z0-9-]+)=`).FindAllStringSubmatch(cmd[1], -1) {
		if !flags[m[1]] {
			t.Errorf("CMD passes --%s, which `shoal run --help` does not list", m[1])
		}
	}
}

// TestPromtool runs promtool on everything Prometheus reads: the config,
// the rules and the rule unit tests.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus; .ci/run does this)")
	}
	rules, _ := filepath.Glob("prometheus/rules/*.yml")
	tests, _ := filepath.Glob("prometheus/tests/*.yml")
	if len(rules) == 0 || len(tests) == 0 {
		t.Fatalf("rules %v, tests %v", rules, tests)
	}
	for _, args := range [][]string{
		{"check", "config", "prometheus/prometheus.yml"},
		append([]string{"check", "rules"}, rules...),
		append([]string{"test", "rules"}, tests...),
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// exportedNames are the metric names a running Shoal serves: from the
// descriptors of the very collectors cmd/shoal registers.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recorder{}
	ingest.NewMetrics(rec)
	// The exporter registers only its failure counter; its outcome families
	// are served next to the registry's by metrics.Handler.
	e := metrics.NewExporter(nil, nil, rec, slog.New(slog.DiscardHandler))
	rec.collectors = append(rec.collectors, e)
	metrics.NewAgreementsCollector(agreements.Default, nil, rec)
	metrics.NewLifecycle(rec, func() (int64, bool) { return 0, false })
	names := map[string]bool{"up": true}
	nameRe := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range rec.collectors {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := nameRe.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			names[m[1]] = true
			for _, s := range []string{"_bucket", "_sum", "_count"} { // histograms
				names[m[1]+s] = true
			}
		}
	}
	return names
}

type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// TestRulesUseExportedMetrics: every shoal_ series a rule reads is one
// Shoal exports, and every shoal: series is a recording rule of ours.
func TestRulesUseExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	for _, n := range []string{"shoal_ingest_consumer_lag_messages", "shoal_suppressed_cells", "shoal_team_response_sla_seconds", "shoal_tasks_completed"} {
		if !exported[n] {
			t.Fatalf("exported names lack %s: %v", n, exported)
		}
	}
	type rule struct {
		Record, Alert, Expr string
	}
	var all []rule
	files, _ := filepath.Glob("prometheus/rules/*.yml")
	for _, f := range files {
		var g struct {
			Groups []struct {
				Rules []rule
			}
		}
		readYAML(t, f, &g)
		for _, gr := range g.Groups {
			all = append(all, gr.Rules...)
		}
	}
	recorded := map[string]bool{}
	alerts := map[string]bool{}
	for _, r := range all {
		if r.Record != "" {
			recorded[r.Record] = true
		}
		alerts[r.Alert] = true
	}
	for _, want := range []string{"ShoalIngestStalled", "ShoalConsumerLagGrowing", "ShoalDeadLetterRateHigh", "ShoalSuppressedCellsSpike"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
	ident := regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	for _, r := range all {
		for _, id := range ident.FindAllString(stripStrings(r.Expr), -1) {
			switch {
			case strings.HasPrefix(id, "shoal_") && !exported[id]:
				t.Errorf("rule %s%s reads %s, which Shoal does not export", r.Record, r.Alert, id)
			case strings.HasPrefix(id, "shoal:") && !recorded[id]:
				t.Errorf("rule %s%s reads %s, which no recording rule defines", r.Record, r.Alert, id)
			}
		}
	}
	// The check itself: a made-up name is caught.
	if exported["shoal_ingest_events_dropped_total"] {
		t.Error("the exported-name set accepts a made-up metric")
	}
}

// stripStrings removes quoted label values, so only identifiers remain.
func stripStrings(expr string) string {
	return regexp.MustCompile(`"[^"]*"`).ReplaceAllString(expr, `""`)
}
