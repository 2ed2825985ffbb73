package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/osproc"
	"camvisor/actors/testkit"
)

// unitFile is a systemd unit's keys by section ("Service.ExecStart"), as
// systemd reads them: comments (# and ;) skipped, a trailing backslash
// continues a line, a key may repeat.
type unitFile map[string][]string

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unitFile{}
	section := ""
	var cont string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if cont != "" {
			line, cont = cont+" "+line, ""
		}
		if strings.HasSuffix(line, `\`) {
			cont = strings.TrimSuffix(line, `\`)
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: %q is no key=value", path, line)
			}
			u[section+"."+strings.TrimSpace(k)] = append(u[section+"."+strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return u
}

// one is the single value of a key, "" when absent; the test fails if the
// unit sets it twice.
func (u unitFile) one(t *testing.T, key string) string {
	t.Helper()
	switch v := u[key]; len(v) {
	case 0:
		return ""
	case 1:
		return v[0]
	default:
		t.Fatalf("unit sets %s %d times: %q", key, len(v), v)
	}
	return ""
}

// words splits a command line or an Environment= value as systemd does
// for the cases a unit of ours may use: whitespace, double or single
// quotes. Specifiers (%) and variables other than $MAINPID are refused:
// the test would have to interpret them.
func words(t *testing.T, s string) []string {
	t.Helper()
	if strings.Contains(s, "%") || strings.Contains(strings.ReplaceAll(s, "$MAINPID", ""), "$") {
		t.Fatalf("%q uses a specifier or variable this test does not interpret", s)
	}
	var out []string
	var cur strings.Builder
	var quote rune
	in := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// installation is a root directory standing for / in which the test lays
// out camvisor as INSTALL.md says, and the system user it creates.
type installation struct {
	t      *testing.T
	root   string
	src    map[string]string // release file name -> file
	user   string
	uid    int
	gid    int
	home   string
	config string // what sudoedit writes
}

// at is path (absolute, as INSTALL.md and the unit write it) inside the
// installation.
func (in *installation) at(path string) string {
	if !filepath.IsAbs(path) {
		in.t.Fatalf("%q is not an absolute path", path)
	}
	return filepath.Join(in.root, path)
}

func (in *installation) id(name string, group bool) int {
	switch name {
	case "root":
		return 0
	case in.user:
		if group {
			return in.gid
		}
		return in.uid
	}
	in.t.Fatalf("unknown user or group %q", name)
	return -1
}

// installSteps reads INSTALL.md's install block.
func installSteps(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("INSTALL.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- install-steps")
	block, _, ok2 := strings.Cut(rest, "<!-- /install-steps -->")
	if !ok || !ok2 {
		t.Fatal("INSTALL.md has no <!-- install-steps --> block")
	}
	var steps []string
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "```") || strings.HasPrefix(l, ":") {
			continue
		}
		steps = append(steps, l)
	}
	if len(steps) == 0 {
		t.Fatal("INSTALL.md's install block is empty")
	}
	return steps
}

// step does one line of INSTALL.md's install block. A line the test does
// not know fails it: the documentation cannot grow a step the test skips.
func (in *installation) step(line string, start func(unit string)) {
	t := in.t
	t.Helper()
	f := strings.Fields(line)
	if f[0] == "sudo" {
		f = f[1:]
	}
	switch {
	case len(f) == 3 && f[0] == "apt-get" && f[1] == "install":
		for _, prog := range []string{"ffmpeg", "ffprobe"} {
			if _, err := exec.LookPath(prog); err != nil {
				t.Fatalf("%s: %s is not installed", line, prog)
			}
		}
	case f[0] == "install":
		in.install(line, f[1:])
	case f[0] == "systemd-sysusers":
		in.sysusers(line)
	case f[0] == "sudoedit" && len(f) == 2:
		st, err := os.Stat(in.at(f[1]))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		// sudoedit writes the file back in place: owner and mode stay.
		if err := os.WriteFile(in.at(f[1]), []byte(in.config), st.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	case len(f) > 3 && f[0] == "-u" && f[1] == in.user && f[2] == "camvisor":
		cmd := exec.Command(in.at("/usr/local/bin/camvisor"), in.mapArgs(f[3:])...)
		in.asUser(cmd, nil)
		cmd.Env = []string{"PATH=" + systemdPath}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	case len(f) == 2 && f[0] == "systemctl" && f[1] == "daemon-reload":
		// The test reads the unit file when it starts the service.
	case len(f) == 4 && f[0] == "systemctl" && f[1] == "enable" && f[2] == "--now":
		start(f[3])
	default:
		t.Fatalf("INSTALL.md install step %q: TestServiceInstallAsDocumented does not know what it does; teach it", line)
	}
}

// install does install(1) with the options INSTALL.md uses.
func (in *installation) install(line string, args []string) {
	t := in.t
	mode, owner, group := os.FileMode(0o755), 0, 0
	dir, parents := false, false
	var paths []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-d":
			dir = true
		case "-D":
			parents = true
		case "-m":
			i++
			m, err := strconv.ParseUint(args[i], 8, 32)
			if err != nil {
				t.Fatalf("%s: mode %q", line, args[i])
			}
			mode = os.FileMode(m)
		case "-o":
			i++
			owner = in.id(args[i], false)
		case "-g":
			i++
			group = in.id(args[i], true)
		default:
			if strings.HasPrefix(args[i], "-") {
				t.Fatalf("%s: option %s is not interpreted by the test", line, args[i])
			}
			paths = append(paths, args[i])
		}
	}
	if dir {
		for _, p := range paths {
			if err := os.MkdirAll(in.at(p), 0o755); err != nil {
				t.Fatal(err)
			}
			in.own(in.at(p), owner, group, mode)
		}
		return
	}
	if len(paths) != 2 {
		t.Fatalf("%s: want SOURCE DEST", line)
	}
	src, ok := in.src[paths[0]]
	if !ok {
		t.Fatalf("%s: %s is not a file of the release", line, paths[0])
	}
	dest := in.at(paths[1])
	if parents {
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dest, data, 0o600); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	in.own(dest, owner, group, mode)
}

func (in *installation) own(path string, uid, gid int, mode os.FileMode) {
	if err := os.Chown(path, uid, gid); err != nil {
		in.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		in.t.Fatal(err)
	}
}

// sysusers creates the user of the snippet installed in /etc/sysusers.d
// as an unused uid and gid (no entry in this machine's passwd and group:
// the test leaves the machine as it found it).
func (in *installation) sysusers(line string) {
	t := in.t
	confs, _ := filepath.Glob(in.at("/etc/sysusers.d/*.conf"))
	if len(confs) != 1 {
		t.Fatalf("%s: want one snippet in /etc/sysusers.d, found %v", line, confs)
	}
	f, err := os.Open(confs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		w := words(t, l)
		if len(w) != 5 || w[0] != "u" || w[2] != "-" {
			t.Fatalf("%s: %q: the test knows `u NAME - \"GECOS\" HOME`", confs[0], l)
		}
		in.user, in.home = w[1], w[4]
	}
	in.uid = unusedID(t, "/etc/passwd")
	in.gid = unusedID(t, "/etc/group")
}

// unusedID is an id in 60000..64999 that file (passwd or group) does not
// name and that owns no process.
func unusedID(t *testing.T, file string) int {
	data, _ := os.ReadFile(file)
	used := map[int]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 {
			n, _ := strconv.Atoi(f[2])
			used[n] = true
		}
	}
	for id := 64999; id >= 60000; id-- {
		if !used[id] && !ownsProcess(id) {
			return id
		}
	}
	t.Fatal("no unused id")
	return 0
}

func ownsProcess(uid int) bool {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if st, err := os.Stat("/proc/" + d.Name()); err == nil && d.IsDir() {
			if s, ok := st.Sys().(*syscall.Stat_t); ok && int(s.Uid) == uid {
				return true
			}
		}
	}
	return false
}

// systemdPath is the PATH systemd gives a service.
const systemdPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// mapArgs puts the absolute paths of a command line into the installation.
func (in *installation) mapArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if filepath.IsAbs(a) {
			a = in.at(a)
		}
		out[i] = a
	}
	return out
}

// asUser runs cmd as the installation's user and groups, in a session of
// its own (as systemd starts a service), killed if the test dies.
func (in *installation) asUser(cmd *exec.Cmd, groups []uint32) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(in.uid), Gid: uint32(in.gid), Groups: groups},
		Setsid:     true,
		Pdeathsig:  syscall.SIGKILL,
	}
}

// notifySocket is the test's stand-in for systemd's notification socket.
type notifySocket struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex // the reading goroutine and the test
	msgs []string   // each datagram
}

func listenNotify(t *testing.T, path string) *notifySocket {
	os.MkdirAll(filepath.Dir(path), 0o755)
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o777) // systemd's is writable by every service's user
	n := &notifySocket{path: path, conn: c}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return n
}

// mark is how many messages came so far.
func (n *notifySocket) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.msgs)
}

// since are the messages after mark.
func (n *notifySocket) since(mark int) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs[mark:]...)
}

// waitSeq waits until the messages after mark hold each of want in order
// (a message holds a want when one of its lines equals it), and returns
// them.
func (n *notifySocket) waitSeq(t *testing.T, mark int, timeout time.Duration, want ...string) []string {
	t.Helper()
	var got []string
	testkit.Eventually(t, timeout, fmt.Sprintf("sd_notify %q", want), func() bool {
		got = n.since(mark)
		i := 0
		for _, m := range got {
			if i < len(want) && slices.Contains(strings.Split(strings.TrimSpace(m), "\n"), want[i]) {
				i++
			}
		}
		return i == len(want)
	})
	return got
}

// status is the last STATUS= among msgs.
func status(msgs []string) string {
	s := ""
	for _, m := range msgs {
		for _, l := range strings.Split(m, "\n") {
			if v, ok := strings.CutPrefix(l, "STATUS="); ok {
				s = v
			}
		}
	}
	return s
}

// service is camvisor started the way systemd starts camvisor.service.
type service struct {
	in      *installation
	unit    unitFile
	env     []string
	groups  []uint32
	cmd     *exec.Cmd
	log     *testkit.SyncBuffer
	notify  *notifySocket
	waitErr chan error
}

// startService starts the unit's ExecStart as systemd 252 would: its
// User= and groups, its directories created and owned, its Environment=
// plus what systemd adds (PATH, HOME, USER, NOTIFY_SOCKET, the
// directories' variables, $CREDENTIALS_DIRECTORY for LoadCredential=), its
// UMask= and WorkingDirectory=.
func (in *installation) startService(t *testing.T, unitPath string) *service {
	t.Helper()
	u := readUnit(t, unitPath)
	if typ := u.one(t, "Service.Type"); typ != "notify" {
		t.Fatalf("Type=%s: this test speaks sd_notify", typ)
	}
	if u.one(t, "Service.User") != in.user || u.one(t, "Service.Group") != in.user {
		t.Fatalf("User=%s Group=%s, the snippet creates %s", u.one(t, "Service.User"), u.one(t, "Service.Group"), in.user)
	}
	if u.one(t, "Service.DynamicUser") == "yes" {
		t.Fatal("DynamicUser=yes: INSTALL.md installs a static user")
	}
	s := &service{in: in, unit: u, log: &testkit.SyncBuffer{}, waitErr: make(chan error, 1)}
	for _, g := range words(t, u.one(t, "Service.SupplementaryGroups")) {
		if gid, ok := groupID(g); ok {
			s.groups = append(s.groups, uint32(gid))
		} else {
			t.Logf("SupplementaryGroups=%s: no such group on this machine (systemd would fail the start)", g)
		}
	}
	s.env = []string{"PATH=" + systemdPath, "HOME=" + in.at(in.home), "USER=" + in.user, "LOGNAME=" + in.user, "SHELL=/usr/sbin/nologin"}
	dirs := []struct{ key, base, env string }{
		{"StateDirectory", "/var/lib", "STATE_DIRECTORY"},
		{"RuntimeDirectory", "/run", "RUNTIME_DIRECTORY"},
	}
	for _, d := range dirs {
		name := u.one(t, "Service."+d.key)
		if name == "" {
			continue
		}
		mode := os.FileMode(0o755)
		if m := u.one(t, "Service."+d.key+"Mode"); m != "" {
			v, _ := strconv.ParseUint(m, 8, 32)
			mode = os.FileMode(v)
		}
		path := in.at(filepath.Join(d.base, name))
		os.MkdirAll(path, mode)
		in.own(path, in.uid, in.gid, mode)
		s.env = append(s.env, d.env+"="+path)
	}
	for _, e := range u["Service.Environment"] {
		s.env = append(s.env, words(t, e)...)
	}
	if len(u["Service.EnvironmentFile"]) > 0 {
		t.Fatal("EnvironmentFile= is not interpreted by this test")
	}
	if creds := u["Service.LoadCredential"]; len(creds) > 0 {
		dir := in.at("/run/credentials/camvisor.service")
		os.MkdirAll(dir, 0o700)
		for _, c := range creds {
			name, src, _ := strings.Cut(c, ":")
			data, err := os.ReadFile(in.at(src))
			if err != nil {
				t.Fatalf("LoadCredential=%s: %v", c, err)
			}
			os.WriteFile(filepath.Join(dir, name), data, 0o400)
			in.own(filepath.Join(dir, name), in.uid, in.gid, 0o400)
		}
		in.own(dir, in.uid, in.gid, 0o500)
		s.env = append(s.env, "CREDENTIALS_DIRECTORY="+dir)
	}
	s.notify = listenNotify(t, in.at("/run/systemd/notify"))
	s.env = append(s.env, "NOTIFY_SOCKET="+s.notify.path, "INVOCATION_ID="+randomHex(16))

	exe := words(t, u.one(t, "Service.ExecStart"))
	s.cmd = exec.Command(in.at(exe[0]), in.mapArgs(exe[1:])...)
	s.cmd.Env = s.env
	if wd := u.one(t, "Service.WorkingDirectory"); wd != "" {
		s.cmd.Dir = in.at(wd)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	in.asUser(s.cmd, s.groups)
	umask := 0o022
	if m := u.one(t, "Service.UMask"); m != "" {
		v, _ := strconv.ParseUint(m, 8, 32)
		umask = int(v)
	}
	old := syscall.Umask(umask)
	err := s.cmd.Start()
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	go func() { s.waitErr <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.waitErr
		}
		if t.Failed() {
			t.Logf("camvisor (the service) wrote:\n%s", s.log.String())
			t.Logf("sd_notify messages: %q", s.notify.since(0))
		}
	})
	return s
}

func groupID(name string) (int, bool) {
	data, _ := os.ReadFile("/etc/group")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == name {
			n, err := strconv.Atoi(f[2])
			return n, err == nil
		}
	}
	return 0, false
}

// reload runs the unit's ExecReload as systemd would (its environment and
// $MAINPID), as uid, and returns its exit code and output.
func (s *service) reload(t *testing.T, uid int) (int, string) {
	t.Helper()
	var cmds []string
	for _, r := range s.unit["Service.ExecReload"] {
		cmds = append(cmds, strings.ReplaceAll(r, "$MAINPID", strconv.Itoa(s.cmd.Process.Pid)))
	}
	if len(cmds) != 1 {
		t.Fatalf("ExecReload=%q: want one command", cmds)
	}
	w := words(t, cmds[0])
	cmd := exec.Command(s.in.at(w[0]), s.in.mapArgs(w[1:])...)
	cmd.Env = append(slices.Clone(s.env), "MAINPID="+strconv.Itoa(s.cmd.Process.Pid))
	s.in.asUser(cmd, s.groups)
	cmd.SysProcAttr.Credential.Uid = uint32(uid)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("ExecReload: %v", err)
	return -1, ""
}

// fileOwner is a file's uid and permission bits.
func fileOwner(t *testing.T, path string) (int, os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return int(st.Sys().(*syscall.Stat_t).Uid), st.Mode().Perm()
}

// procUID is a live process's real uid.
func procUID(pid int) int {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "Uid:"); ok {
			f := strings.Fields(v)
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	return -1
}

// TestServiceInstallAsDocumented installs camvisor the way INSTALL.md
// says, line by line (into a directory standing for /, with an unused uid
// and gid for the user the sysusers snippet creates), starts it the way
// systemd starts camvisor.service — its user, groups, directories,
// environment and command line read from the unit file — and checks that
// it starts (READY=1), patrols, keeps its record to itself, reloads
// (RELOADING=1 then READY=1; a rejected file fails the reload command, the
// previous configuration runs on), refuses another user's reload, and stops
// on SIGTERM with exit 0 and no ffmpeg left.
func TestServiceInstallAsDocumented(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("TestServiceInstallAsDocumented runs as root: it installs files owned by another user and starts camvisor as that user (run the suite as root, as `make test` does in CI)")
	}
	testkit.RequireFFmpeg(t)
	root, err := os.MkdirTemp("", "camvisor-install-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755) // the service's user walks through it, as through /
	for _, d := range []string{"/usr/local/bin", "/etc/systemd/system", "/var/lib", "/run"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	in := &installation{t: t, root: root, src: map[string]string{"camvisor": testkit.Binary(t, "camvisor/cmd/camvisor")}}
	for _, f := range releaseFiles {
		if f != "camvisor" {
			in.src[f] = f
		}
	}
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", MaxConnections: 2}, camsim.Camera{Name: "back", MaxConnections: 2})
	dbPath := in.at("/var/lib/camvisor/camvisor.db")
	cfg := func(back string) string {
		return fmt.Sprintf("listen: 127.0.0.1:0\ndb: %s\nffmpeg: { capture_timeout: 3s, kill_grace: 1s }\nrecord: { sample_interval: 200ms }\n"+
			"subnets:\n  - name: house\n    interval: 2s\n    cameras:\n      - id: front\n        url: %s\n        max_connections: 2\n%s",
			dbPath, cams.URL("front"), back)
	}
	in.config = cfg("")
	live := func() []osproc.Info {
		var out []osproc.Info
		for _, p := range testkit.FFmpegOfHome(dbPath) {
			if !p.Zombie() {
				out = append(out, p)
			}
		}
		return out
	}
	testkit.NoProcessesLeft(t, "the installed service", live)

	var svc *service
	for _, step := range installSteps(t) {
		in.step(step, func(unit string) {
			svc = in.startService(t, in.at("/etc/systemd/system/"+unit+".service"))
		})
	}
	if svc == nil {
		t.Fatal("INSTALL.md's steps never start the service")
	}

	// Ready, as its user, patrolling.
	got := svc.notify.waitSeq(t, 0, 30*time.Second, "READY=1")
	if st := status(got); !strings.Contains(st, "patrolling 1 cameras") {
		t.Errorf("STATUS=%q after READY=1", st)
	}
	pid := svc.cmd.Process.Pid
	if uid := procUID(pid); uid != in.uid {
		t.Errorf("camvisor runs as uid %d, want the service user's %d", uid, in.uid)
	}
	testkit.Eventually(t, 30*time.Second, "captures of front recorded", func() bool { return count(t, dbPath, "captures") >= 3 })
	if st := cams.Stats("front"); st.Total < 1 {
		t.Errorf("camsim saw %d connections to front", st.Total)
	}
	for _, f := range []string{dbPath, dbPath + ".token"} {
		if uid, mode := fileOwner(t, f); uid != in.uid || mode != 0o600 {
			t.Errorf("%s: uid %d mode %o; want the service's user and 0600 (UMask=0077)", f, uid, mode)
		}
	}
	for _, p := range live() {
		if uid := procUID(p.PID); uid != in.uid && uid != -1 {
			t.Errorf("ffmpeg %d runs as uid %d", p.PID, uid)
		}
	}
	conf := in.at("/etc/camvisor/camvisor.yaml")
	if uid, mode := fileOwner(t, conf); uid != 0 || mode&0o027 != 0 {
		t.Errorf("%s: uid %d mode %o: readable or writable beyond root and the group", conf, uid, mode)
	}

	// A good reload: RELOADING=1, then READY=1; the new camera patrols.
	os.WriteFile(conf, []byte(cfg("      - id: back\n        url: "+cams.URL("back")+"\n        max_connections: 2\n")), 0o640)
	mark := svc.notify.mark()
	code, out := svc.reload(t, in.uid)
	if code != 0 || !strings.Contains(out, "reload applied") {
		t.Fatalf("a good reload: exit %d\n%s", code, out)
	}
	got = svc.notify.waitSeq(t, mark, 10*time.Second, "RELOADING=1", "READY=1")
	if st := status(got); !strings.Contains(st, "patrolling 2 cameras") {
		t.Errorf("STATUS=%q after the reload", st)
	}
	testkit.Eventually(t, 30*time.Second, "camsim sees back patrolled", func() bool { return cams.Stats("back").Total >= 1 })

	// A rejected reload fails systemctl reload, with the reason; the
	// server runs on with what it had.
	os.WriteFile(conf, []byte(cfg("      - id: back\n        url: "+cams.URL("back")+"\n")), 0o640)
	mark = svc.notify.mark()
	code, out = svc.reload(t, in.uid)
	if code == 0 || !strings.Contains(out, "max_connections") || !strings.Contains(out, "rejected") {
		t.Errorf("a rejected reload: exit %d (want non-zero), %q", code, out)
	}
	got = svc.notify.waitSeq(t, mark, 10*time.Second, "RELOADING=1", "READY=1")
	if st := status(got); !strings.Contains(st, "reload rejected") || !strings.Contains(st, "patrolling 2 cameras") {
		t.Errorf("STATUS=%q after a rejected reload", st)
	}
	before := count(t, dbPath, "captures")
	testkit.Eventually(t, 30*time.Second, "the patrol runs on", func() bool { return count(t, dbPath, "captures") >= before+4 })

	// Another user cannot reach the control socket.
	if code, out := svc.reload(t, in.uid-1); code == 0 || !strings.Contains(out, "permission denied") {
		t.Errorf("reload by another uid: exit %d, %q", code, out)
	}

	// systemctl stop: SIGTERM to camvisor alone (KillMode=mixed), exit 0
	// within TimeoutStopSec, STOPPING=1, no ffmpeg left.
	stopWait, _ := strconv.Atoi(svc.unit.one(t, "Service.TimeoutStopSec"))
	mark = svc.notify.mark()
	svc.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-svc.waitErr:
		if err != nil {
			t.Errorf("camvisor after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(time.Duration(stopWait) * time.Second):
		t.Fatalf("camvisor did not stop within TimeoutStopSec=%ds", stopWait)
	}
	svc.notify.waitSeq(t, mark, time.Second, "STOPPING=1")
	if left := live(); len(left) > 0 {
		t.Errorf("ffmpeg left after the stop:%s", testkit.Describe(left))
	}
	if _, err := os.Lstat(in.at("/run/camvisor/control.sock")); err == nil {
		t.Error("the control socket is left behind")
	}
}

// releaseFiles are the files of a release directory (make dist), which
// INSTALL.md's steps install from.
var releaseFiles = []string{"camvisor", "camvisor.service", "camvisor.sysusers", "camvisor.example.yaml", "camvisor.rules.yml", "Dockerfile", "INSTALL.md", "CAMERAS.md"}
