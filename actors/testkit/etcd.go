package testkit

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/osproc"
)

// EtcdPath is Debian's etcd-server binary (make deps installs it).
const EtcdPath = "/usr/bin/etcd"

// Etcd is a real one-member etcd on loopback ports with its own data
// directory, started and killed by a test.
type Etcd struct {
	// URL is its client URL (http://127.0.0.1:PORT).
	URL string
	cmd *exec.Cmd
	log *SyncBuffer

	mu     sync.Mutex
	exited bool
}

// StartEtcd starts an etcd for t and waits until it answers /health. At
// cleanup it is killed and checked gone from /proc.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	if _, err := exec.LookPath(EtcdPath); err != nil {
		t.Fatal("etcd is not installed: run `make deps` (apt-get install etcd-server)")
	}
	client, peer := FreePort(t), FreePort(t)
	e := &Etcd{URL: fmt.Sprintf("http://127.0.0.1:%d", client), log: &SyncBuffer{}}
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	e.cmd = exec.Command(EtcdPath, "--name", "test", "--data-dir", filepath.Join(t.TempDir(), "etcd"),
		"--listen-client-urls", e.URL, "--advertise-client-urls", e.URL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "test="+peerURL, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn")
	e.cmd.Stdout, e.cmd.Stderr = e.log, e.log
	// The parent-death signal fires when the thread that forked exits: it
	// is started and waited for on one locked thread, so it dies with the
	// test process and not before.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, done := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := e.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = e.cmd.Wait()
		e.mu.Lock()
		e.exited = true
		e.mu.Unlock()
		close(done)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cmd.Process.Kill()
		<-done
		if p, ok := osproc.Read(e.cmd.Process.Pid); ok && !p.Zombie() {
			t.Errorf("etcd pid %d still in /proc after the test", p.PID)
		}
		if t.Failed() {
			t.Logf("etcd log:\n%s", e.log.String())
		}
	})
	Eventually(t, 30*time.Second, "etcd answers /health", func() bool {
		if e.Exited() {
			t.Fatalf("etcd exited at start:\n%s", e.log.String())
		}
		resp, err := http.Get(e.URL + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// Exited reports whether the etcd process has ended.
func (e *Etcd) Exited() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.exited
}

// PID is the etcd process's id.
func (e *Etcd) PID() int { return e.cmd.Process.Pid }

// FreePort is a TCP port on 127.0.0.1 nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
