package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors"
	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"

	"go.yaml.in/yaml/v3"
)

// TestHelpExitsZero: asking for help is not an error, for every command.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"run", "-h"}, {"run", "--help"}, {"check", "-h"},
		{"check", "--help"}, {"db", "-h"}, {"db", "backup", "-h"}, {"db", "report", "--help"}, {"version", "-h"},
		{"reload", "-h"}, {"probe", "--help"}} {
		code, out := run(args...)
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("camvisor %s: exit %d, %q", strings.Join(args, " "), code, out)
		}
	}
	if _, out := run("run", "-h"); !strings.Contains(out, "CAMVISOR_DB") || !strings.Contains(out, "--log-level") {
		t.Errorf("run -h does not name the environment variables or --log-level:\n%s", out)
	}
	if code, _ := run("run", "--no-such-flag"); code != 2 {
		t.Errorf("an unknown flag: exit %d, want 2", code)
	}
}

// TestFlagsFromEnvironment: every flag may come from CAMVISOR_<FLAG>; the
// command line wins; a bad value names its variable.
func TestFlagsFromEnvironment(t *testing.T) {
	good := writeFile(t, "good.yaml", "subnets:\n  - name: lab\n    cameras:\n      - id: c1\n        url: rtsp://u:pw@127.0.0.1/x\n        max_connections: 2\n")
	t.Setenv("CAMVISOR_CONFIG", good)
	if code, out := run("check"); code != 0 || !strings.Contains(out, good) {
		t.Errorf("check with CAMVISOR_CONFIG: exit %d, %q", code, out)
	}
	if code, out := run("check", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitConfig || strings.Contains(out, good) {
		t.Errorf("the command line does not win: exit %d, %q", code, out)
	}
	t.Setenv("CAMVISOR_LOG_LEVEL", "loud")
	if code, out := run("run"); code == 0 || !strings.Contains(out, "loud") {
		t.Errorf("bad CAMVISOR_LOG_LEVEL: exit %d, %q", code, out)
	}
	t.Setenv("CAMVISOR_LOG_LEVEL", "")
	t.Setenv("CAMVISOR_LISTEN", "not-an-address")
	if code, out := run("run"); code != exitConfig || !strings.Contains(out, "not-an-address") {
		t.Errorf("CAMVISOR_LISTEN: exit %d, %q", code, out)
	}
}

// TestVersionFromBuildInfo: a go build without -ldflags, in a clone of
// the repository, names its version from what Go stamped: the module's
// pseudo-version and the VCS revision, never "dev". (Go finds no VCS in
// a git worktree, whose .git is a file, and this machine's go env sets
// -buildvcs=false: the test clones, and asks for the stamp.)
func TestVersionFromBuildInfo(t *testing.T) {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git: %v", err)
	}
	clone := filepath.Join(t.TempDir(), "camvisor")
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("clone", "--quiet", "--no-hardlinks", strings.TrimSpace(string(top)), clone)
	head := git("-C", clone, "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "camvisor")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "./cmd/camvisor")
	build.Dir = clone
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v %s", err, out)
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v %s", arg, err, out)
		}
		want := fmt.Sprintf("camvisor v0.0.0-YYYYMMDDhhmmss-%s (commit %s, built unknown, go1... linux/...)", head[:12], head)
		if !regexp.MustCompile(`^camvisor v0\.0\.0-\d{14}-` + head[:12] + ` \(commit ` + head + `, built unknown, go1\.\S+ linux/`).Match(out) {
			t.Errorf("camvisor %s: %q, want like %q", arg, out, want)
		}
	}
}

// unit reads camvisor.service's [Service] keys.
func unit(t *testing.T) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	for k, v := range readUnit(t, "camvisor.service") {
		if name, ok := strings.CutPrefix(k, "Service."); ok {
			keys[name] = v
		}
	}
	return keys
}

// TestServiceUnit: the unit in the repository passes systemd-analyze
// verify, has the settings INSTALL.md promises, gives camvisor longer to
// stop than its stop can take, and its KillMode=mixed contract holds:
// SIGTERM to the main process alone leaves no ffmpeg behind.
func TestServiceUnit(t *testing.T) {
	keys := unit(t)
	for k, want := range map[string]string{"Type": "notify", "KillMode": "mixed", "Restart": "on-failure",
		"RestartPreventExitStatus": "78", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
		"PrivateTmp": "yes", "StateDirectory": "camvisor", "RuntimeDirectory": "camvisor", "RuntimeDirectoryMode": "0700",
		"User": "camvisor", "Group": "camvisor", "SupplementaryGroups": "render video", "UMask": "0077",
		"CapabilityBoundingSet": "", "SystemCallFilter": "@system-service", "ProtectClock": "yes", "ProtectHostname": "yes",
		"RestrictNamespaces": "yes", "TasksMax": strconv.Itoa(defaultTasksMax)} {
		if !slices.Contains(keys[k], want) {
			t.Errorf("camvisor.service: %s=%v, want %s", k, keys[k], want)
		}
	}
	all := readUnit(t, "camvisor.service")
	if all.one(t, "Unit.StartLimitBurst") == "" || all.one(t, "Unit.StartLimitIntervalSec") == "" {
		t.Error("camvisor.service: no start limit in [Unit]: a failing service restarts forever")
	}
	// systemctl reload asks the server ExecStart started, through the
	// control socket in the service's own runtime directory.
	execStart, reload := words(t, all.one(t, "Service.ExecStart")), words(t, all.one(t, "Service.ExecReload"))
	sock := func(argv []string) string {
		if i := slices.Index(argv, "--control-socket"); i >= 0 && i+1 < len(argv) {
			return argv[i+1]
		}
		return ""
	}
	if s := sock(execStart); s == "" || s != sock(reload) || filepath.Dir(s) != "/run/"+all.one(t, "Service.RuntimeDirectory") ||
		len(reload) < 2 || reload[1] != "reload" {
		t.Errorf("ExecStart=%q and ExecReload=%q: want camvisor reload on run's --control-socket in RuntimeDirectory", execStart, reload)
	}
	// TasksMax covers 96 camera connections.
	cfg := config.Defaults()
	many := make([]config.Camera, 48)
	for i := range many {
		many[i] = config.Camera{ID: fmt.Sprint(i), MaxConnections: 2}
	}
	cfg.Subnets = []config.Subnet{{Name: "lab", Cameras: many}}
	if need := tasksBudget(cfg); need > defaultTasksMax {
		t.Errorf("TasksMax=%d: 96 camera connections need %d", defaultTasksMax, need)
	}
	// The relay asks the kernel who connects to it (sock_diag, a netlink
	// socket): a unit that forbids netlink refuses every capture of a
	// camera with a password.
	for _, families := range keys["RestrictAddressFamilies"] {
		if !strings.Contains(families, "AF_NETLINK") {
			t.Errorf("camvisor.service: RestrictAddressFamilies=%s leaves out AF_NETLINK, which the RTSP relay needs", families)
		}
	}
	stop, err := strconv.Atoi(strings.TrimSuffix(keys["TimeoutStopSec"][0], "s"))
	if need := stopBudget(config.Defaults()); err != nil || time.Duration(stop)*time.Second < need {
		t.Errorf("TimeoutStopSec=%v: camvisor's stop may take %s with the default kill_grace", keys["TimeoutStopSec"], need)
	}

	bin := testkit.Binary(t, "camvisor/cmd/camvisor")
	if path, err := exec.LookPath("systemd-analyze"); err == nil {
		text, _ := os.ReadFile("camvisor.service")
		verify := filepath.Join(t.TempDir(), "camvisor.service")
		os.WriteFile(verify, []byte(strings.ReplaceAll(string(text), "/usr/local/bin/camvisor", bin)), 0o644)
		if out, err := exec.Command(path, "verify", verify).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	} else {
		t.Log("systemd-analyze is not installed: the unit's syntax is not verified here")
	}

	// KillMode=mixed: systemd sends SIGTERM to camvisor alone.
	testkit.RequireFFmpeg(t)
	cams := testkit.Camsim(t, camsim.Camera{Name: "h1", Hang: true}, camsim.Camera{Name: "h2", Hang: true}, camsim.Camera{Name: "ok"})
	// ffmpeg's command line names the relay, not the camera: its children
	// are found by their tag, the installation (the record's absolute path).
	dbPath := filepath.Join(t.TempDir(), "camvisor.db")
	live := func() []osproc.Info {
		var out []osproc.Info
		for _, p := range testkit.FFmpegOfHome(dbPath) {
			if !p.Zombie() {
				out = append(out, p)
			}
		}
		return out
	}
	testkit.NoProcessesLeft(t, "camvisor binary", live)
	s := startServer(t, cams, []string{"h1", "h2", "ok"}, dbPath)
	testkit.Eventually(t, 20*time.Second, "ffmpeg of a hung camera running", func() bool { return len(live()) >= 1 })
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("camvisor after SIGTERM: %v", err)
	}
	if took := time.Since(start); took > time.Duration(stop)*time.Second {
		t.Errorf("the stop took %s, longer than TimeoutStopSec", took)
	}
	if left := live(); len(left) > 0 {
		t.Errorf("SIGTERM to camvisor alone left %d ffmpeg processes:%s", len(left), testkit.Describe(left))
	}
	if n := count(t, s.db, "processes WHERE stop_reason = 'shutdown'"); n < 1 {
		t.Errorf("%d processes recorded as stopped by the shutdown", n)
	}
}

// TestAlertRulesFile: the Prometheus rules in the repository parse,
// mirror every built-in rule (its alertname and rule label as the
// webhook sends them), and use only metrics camvisor exports.
func TestAlertRulesFile(t *testing.T) {
	data, err := os.ReadFile("camvisor.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("camvisor.rules.yml: %v", err)
	}
	cfg := config.Defaults()
	cfg.Go2RTC.URL = "http://127.0.0.1:1984"
	cfg.Cluster = config.Cluster{Etcd: []string{"http://127.0.0.1:2379"}, Node: "n1"}
	cfg.MQTT.URL = "mqtt://127.0.0.1:1883"
	cfg.Subnets = []config.Subnet{{Name: "lab"}}
	names := actors.NewMetrics(&actors.Env{Config: cfg, Log: slog.Default()}).Names()
	metric := regexp.MustCompile(`\bcamvisor_[a-z0-9_]+`)
	mirrored := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q lacks alert, expr, summary or severity", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q", r.Alert, r.For)
				}
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("%s: unbalanced expression %q", r.Alert, r.Expr)
			}
			for _, m := range metric.FindAllString(r.Expr, -1) {
				if !slices.Contains(names, m) {
					t.Errorf("%s uses %s, which camvisor does not export", r.Alert, m)
				}
			}
			if rule := r.Labels["rule"]; rule != "" {
				mirrored[rule] = true
				if r.Alert != actors.AlertName(rule) {
					t.Errorf("rule %s is alert %s; the webhook names it %s", rule, r.Alert, actors.AlertName(rule))
				}
			}
		}
	}
	for _, rule := range actors.AlertRules {
		if !mirrored[rule] {
			t.Errorf("built-in rule %s has no Prometheus rule", rule)
		}
	}
}
