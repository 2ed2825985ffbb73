package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
)

// dockerfile is a Dockerfile's instructions in order: the keyword (upper
// case) and its arguments, continuation lines joined.
type dockerfile []struct{ op, args string }

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var d dockerfile
	var cur string
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur == "") {
			continue
		}
		cur += " " + strings.TrimSuffix(trimmed, `\`)
		if strings.HasSuffix(trimmed, `\`) {
			continue
		}
		op, args, _ := strings.Cut(strings.TrimSpace(cur), " ")
		d = append(d, struct{ op, args string }{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return d
}

// all are the arguments of every op instruction.
func (d dockerfile) all(op string) []string {
	var out []string
	for _, in := range d {
		if in.op == op {
			out = append(out, in.args)
		}
	}
	return out
}

// last is the arguments of the last op instruction (the one that counts).
func (d dockerfile) last(t *testing.T, op string) string {
	t.Helper()
	all := d.all(op)
	if len(all) == 0 {
		t.Fatalf("Dockerfile has no %s", op)
	}
	return all[len(all)-1]
}

// execForm reads an instruction's JSON array form (ENTRYPOINT, CMD).
func execForm(t *testing.T, op, args string) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("%s %s: want the exec form, a JSON array (signals reach the program, no shell)", op, args)
	}
	return argv
}

// TestDockerfile checks the image as far as this machine allows. Building
// it needs Debian's packages from a mirror (apt-get in the RUN step), and
// the suite reaches no address but 127.0.0.1, so it is not built here (it
// was built and run by hand with podman: INSTALL.md). Instead the test
// reads the Dockerfile — Debian slim, ffmpeg, tini and curl installed, a
// non-root user, a volume for the record, SIGTERM, a HEALTHCHECK on
// /healthz, the exec forms — checks that every COPY source is a file of
// the release directory the image is built from, and runs the
// ENTRYPOINT and CMD as the container would: same arguments, the image's
// uid and gid, its WORKDIR, the volume's path, tini as PID 1's stand-in
// when installed here, against camsim; the HEALTHCHECK's command answers,
// the STOPSIGNAL stops it with exit 0 and no ffmpeg left.
func TestDockerfile(t *testing.T) {
	d := readDockerfile(t)

	// The base and what the RUN installs.
	from := d.last(t, "FROM")
	base := from
	for _, a := range d.all("ARG") {
		if name, def, ok := strings.Cut(a, "="); ok && strings.Contains(from, "${"+name+"}") {
			base = strings.ReplaceAll(from, "${"+name+"}", def)
		}
	}
	if base != "debian:bookworm-slim" {
		t.Errorf("FROM %s (base %s): want debian:bookworm-slim, the Debian 12 the release is built for", from, base)
	}
	run := strings.Join(d.all("RUN"), " && ")
	install := regexp.MustCompile(`apt-get install [^&]*`).FindString(run)
	for _, pkg := range []string{"ffmpeg", "tini", "curl"} {
		if !slices.Contains(strings.Fields(install), pkg) {
			t.Errorf("the RUN step does not install %s: %q", pkg, install)
		}
	}

	// A non-root user with fixed ids, created by the RUN step.
	user := d.last(t, "USER")
	uidRe := regexp.MustCompile(`useradd [^&]*--uid (\d+)[^&]* ` + regexp.QuoteMeta(user) + `\b`)
	gidRe := regexp.MustCompile(`groupadd [^&]*--gid (\d+)[^&]* ` + regexp.QuoteMeta(user) + `\b`)
	um, gm := uidRe.FindStringSubmatch(run), gidRe.FindStringSubmatch(run)
	if um == nil || gm == nil || user == "root" || um[1] == "0" {
		t.Fatalf("USER %s: want a non-root user the RUN step creates with groupadd --gid and useradd --uid", user)
	}
	uid, _ := strconv.Atoi(um[1])
	gid, _ := strconv.Atoi(gm[1])

	if sig := d.last(t, "STOPSIGNAL"); sig != "SIGTERM" {
		t.Errorf("STOPSIGNAL %s: camvisor's ordered stop is on SIGTERM", sig)
	}
	volume := d.last(t, "VOLUME")
	workdir := d.last(t, "WORKDIR")
	entry := execForm(t, "ENTRYPOINT", d.last(t, "ENTRYPOINT"))
	cmd := execForm(t, "CMD", d.last(t, "CMD"))
	if entry[0] != "/usr/bin/tini" || entry[1] != "--" || entry[2] != "/usr/local/bin/camvisor" {
		t.Errorf("ENTRYPOINT %q: want tini -- camvisor", entry)
	}
	argv := append(slices.Clone(entry[3:]), cmd...)
	flag := func(name string) string {
		if i := slices.Index(argv, name); i >= 0 && i+1 < len(argv) {
			return argv[i+1]
		}
		t.Fatalf("ENTRYPOINT and CMD %q: no %s", argv, name)
		return ""
	}
	if db := flag("--db"); filepath.Dir(db) != volume {
		t.Errorf("--db %s is not in the VOLUME %s: the record would be lost with the container", db, volume)
	}
	listen := flag("--listen")
	health := d.last(t, "HEALTHCHECK")
	_, hc, ok := strings.Cut(health, "CMD ")
	if !ok {
		t.Fatalf("HEALTHCHECK %s: no CMD", health)
	}
	check := execForm(t, "HEALTHCHECK CMD", hc)
	_, port, _ := net.SplitHostPort(listen)
	healthURL := check[len(check)-1]
	if check[0] != "curl" || healthURL != "http://127.0.0.1:"+port+"/healthz" {
		t.Errorf("HEALTHCHECK %q: want curl on /healthz at the --listen port %s", check, port)
	}

	// Every COPY source is a file of the release directory.
	root, err := os.MkdirTemp("", "camvisor-image-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	at := func(p string) string { return filepath.Join(root, p) }
	bin := testkit.Binary(t, "camvisor/cmd/camvisor")
	for _, c := range d.all("COPY") {
		f := strings.Fields(c)
		if len(f) != 2 || strings.HasPrefix(f[0], "--") {
			t.Fatalf("COPY %s: want COPY SOURCE DEST", c)
		}
		if !slices.Contains(releaseFiles, f[0]) {
			t.Errorf("COPY %s: %s is not a file of the release directory (releaseFiles, make dist)", c, f[0])
			continue
		}
		src := f[0]
		if src == "camvisor" {
			src = bin
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("COPY %s: %v", c, err)
		}
		os.MkdirAll(filepath.Dir(at(f[1])), 0o755)
		os.WriteFile(at(f[1]), data, 0o755)
	}

	// Run it as the container would. The config is the operator's,
	// mounted over the example; the volume is owned by the image's user.
	testkit.RequireFFmpeg(t)
	cams := testkit.Camsim(t, camsim.Camera{Name: "front"})
	os.MkdirAll(filepath.Dir(at(volume)), 0o755)
	os.Mkdir(at(volume), 0o750)
	os.Chown(at(volume), uid, gid)
	dbPath := at(flag("--db"))
	config := at(flag("--config"))
	os.WriteFile(config, []byte(fmt.Sprintf("subnets:\n  - name: lab\n    interval: 1s\n    cameras:\n      - id: front\n        url: %s\n        max_connections: 2\n", cams.URL("front"))), 0o644)
	// The container's port, published on loopback: the one address
	// changed, in the arguments and the health check alike.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	published := ln.Addr().String()
	ln.Close()
	healthURL = strings.Replace(healthURL, "127.0.0.1:"+port, published, 1)
	var args []string
	for _, a := range argv {
		switch {
		case a == listen:
			a = published
		case filepath.IsAbs(a):
			a = at(a)
		}
		args = append(args, a)
	}
	program := at(entry[2])
	if tini, err := exec.LookPath(entry[0]); err == nil {
		args = append([]string{"--", program}, args...)
		program = tini
	} else {
		t.Logf("%s is not installed here: camvisor runs without it", entry[0])
	}
	live := func() []osproc.Info { return testkit.FFmpegOfHome(dbPath) }
	testkit.NoProcessesLeft(t, "the container's camvisor", live)
	c := exec.Command(program, args...)
	c.Dir = at(workdir)
	c.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + at(volume)}
	logs := &testkit.SyncBuffer{}
	c.Stdout, c.Stderr = logs, logs
	c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setsid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	t.Cleanup(func() {
		if c.ProcessState == nil {
			syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("the container's output:\n%s", logs.String())
		}
	})
	testkit.Eventually(t, 30*time.Second, "captures in the volume's record", func() bool { return count(t, dbPath, "captures") >= 2 })
	healthy := func() bool {
		if curl, err := exec.LookPath(check[0]); err == nil {
			return exec.Command(curl, append(check[1:len(check)-1], healthURL)...).Run() == nil
		}
		res, err := http.Get(healthURL)
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == http.StatusOK
	}
	testkit.Eventually(t, 10*time.Second, "the HEALTHCHECK passes", healthy)
	for _, f := range []string{dbPath, dbPath + ".token"} {
		if owner, _ := fileOwner(t, f); owner != uid {
			t.Errorf("%s is owned by uid %d, not the image's user %d", f, owner, uid)
		}
	}
	c.Process.Signal(syscall.SIGTERM) // STOPSIGNAL, to PID 1
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after STOPSIGNAL: %v, want exit 0", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("no exit 45 s after STOPSIGNAL")
	}
	if left := live(); len(left) > 0 {
		t.Errorf("ffmpeg left after the stop:%s", testkit.Describe(left))
	}
}
