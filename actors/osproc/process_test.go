package osproc

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// alive reports whether pid exists in /proc, zombies included.
func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func TestStopKillsWholeGroupAndReaps(t *testing.T) {
	// A shell here is the process under test (a parent with a grandchild),
	// not a way of running ffmpeg.
	p, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", "sleep 60 & echo $!; wait"}, TailLines: 4})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var grandchild int
	for grandchild == 0 && time.Now().Before(deadline) {
		for _, info := range Scan("sleep") {
			if info.PGID == p.PID {
				grandchild = info.PID
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if grandchild == 0 {
		t.Fatal("grandchild sleep never appeared in the process group")
	}
	start := time.Now()
	exit := p.Stop(2 * time.Second)
	if took := time.Since(start); took > time.Second {
		t.Errorf("stop took %s although sh honours SIGTERM", took)
	}
	if exit.Signal != "SIGTERM" {
		t.Errorf("exit = %+v, want killed by SIGTERM", exit)
	}
	if alive(p.PID) {
		t.Errorf("leader %d still in /proc after Stop returned (not reaped)", p.PID)
	}
	waitGone(t, grandchild)
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	p, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; while :; do sleep 0.05; done"}})
	if err != nil {
		t.Fatal(err)
	}
	waitTrapped(t, p.PID)
	start := time.Now()
	exit := p.Stop(300 * time.Millisecond)
	took := time.Since(start)
	if exit.Signal != "SIGKILL" || took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("exit %+v after %s, want SIGKILL after the 300ms grace", exit, took)
	}
	if alive(p.PID) {
		t.Errorf("%d not reaped", p.PID)
	}
}

func TestExitStatusStdoutAndTail(t *testing.T) {
	p, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", "printf 'abcdef'; printf 'one\\ntwo\\nthree\\n' >&2; exit 3"}, MaxStdout: 4, TailLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	exit := p.Exit()
	if exit.Code != 3 || string(exit.Stdout) != "abcd" || !exit.StdoutOver {
		t.Errorf("exit = %+v", exit)
	}
	if len(exit.StderrTail) != 2 || exit.StderrTail[0] != "two" || exit.StderrTail[1] != "three" {
		t.Errorf("tail = %q", exit.StderrTail)
	}
}

func TestStartErrorAndSignalAfterReap(t *testing.T) {
	if _, err := Start(Spec{Path: "/nonexistent/ffmpeg"}); err == nil {
		t.Fatal("started a missing program")
	}
	p, err := Start(Spec{Path: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	p.Signal(syscall.SIGKILL) // must not signal a group id the kernel may reuse
	if e := p.Stop(time.Second); !e.Success() {
		t.Errorf("exit = %+v", e)
	}
}

func TestScanReadsTags(t *testing.T) {
	p, err := Start(Spec{Path: "/bin/sleep", Args: []string{"30"}, Env: []string{EnvRun + "=run-x", EnvOwner + "=root/a/b"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	info, ok := Read(p.PID)
	if !ok || info.Name != "sleep" || info.Run != "run-x" || info.Owner != "root/a/b" || info.PGID != p.PID {
		t.Fatalf("Read = %+v, %v", info, ok)
	}
}

// waitGone waits until pid, a grandchild this test cannot reap, has died:
// gone from /proc or a zombie waiting for its new parent (PID 1 in some
// sandboxes reaps late or never).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) && !zombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// zombie reports whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command, which is in parentheses and may
	// itself contain them.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// waitTrapped waits until pid ignores SIGTERM, as /proc/<pid>/status shows.
func waitTrapped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		for _, line := range strings.Split(string(status), "\n") {
			if mask, ok := strings.CutPrefix(line, "SigIgn:\t"); ok {
				if bits, err := strconv.ParseUint(mask, 16, 64); err == nil && bits&(1<<(uint(syscall.SIGTERM)-1)) != 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never ignored SIGTERM", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReadSchedTellsWorkFromWaiting: a process that sleeps shows next to
// no time run; one that spins shows the time it ran. What the admission
// reads to tell a capture that waits on its camera from one that works.
func TestReadSchedTellsWorkFromWaiting(t *testing.T) {
	sleeper, err := Start(Spec{Path: "/bin/sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sleeper.Stop(time.Second)
	spinner, err := Start(Spec{Path: "/bin/sh", Args: []string{"-c", "while :; do :; done"}})
	if err != nil {
		t.Fatal(err)
	}
	defer spinner.Stop(time.Second)
	var spun Sched
	deadline := time.Now().Add(20 * time.Second)
	for spun.Ran < 200*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("the spinner ran %v in 20 s", spun.Ran)
		}
		time.Sleep(50 * time.Millisecond)
		var ok bool
		if spun, ok = ReadSched(spinner.PID); !ok {
			t.Fatal("no schedstat for a live process")
		}
	}
	slept, ok := ReadSched(sleeper.PID)
	if !ok || slept.Ran > 50*time.Millisecond {
		t.Errorf("the sleeper ran %v (ok %v), want next to nothing", slept.Ran, ok)
	}
	if _, ok := ReadSched(1 << 30); ok {
		t.Error("a process that does not exist has statistics")
	}
}

// TestEnvironmentMinimal: a process inherits PATH and the locale of
// camvisor's environment and nothing else, plus its Spec.Env.
func TestEnvironmentMinimal(t *testing.T) {
	t.Setenv("CAMVISOR_SECRET_FOR_TEST", "s3cret")
	t.Setenv("LC_ALL", "C")
	p, err := Start(Spec{Path: "/bin/sleep", Args: []string{"30"}, Env: []string{EnvRun + "=run-env"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	want := []string{"LC_ALL=C", EnvRun + "=run-env"}
	if path, ok := os.LookupEnv("PATH"); ok {
		want = append(want, "PATH="+path)
	}
	if lang, ok := os.LookupEnv("LANG"); ok {
		want = append(want, "LANG="+lang)
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "LC_") && kv != "LC_ALL=C" {
			want = append(want, kv)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("environment %q, want %q", got, want)
	}
}

// TestProcessOutlivesTheThreadThatStartedIt: the parent-death signal is
// tied to the thread that forks (forker), which lives as long as
// camvisor, not to the thread of whoever called Start: a process started
// from a goroutine whose OS thread then exits keeps running.
func TestProcessOutlivesTheThreadThatStartedIt(t *testing.T) {
	started := make(chan *Process, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		p, err := Start(Spec{Path: "/bin/sleep", Args: []string{"60"}})
		if err != nil {
			t.Error(err)
		}
		started <- p
	}()
	p := <-started
	if p == nil {
		return
	}
	t.Cleanup(func() { p.Stop(time.Second) })
	time.Sleep(200 * time.Millisecond) // give a wrongly tied parent-death signal the time to kill it
	if info, ok := Read(p.PID); !ok || info.Zombie() {
		t.Fatalf("the process died with the thread that asked for it (alive: %v)", ok)
	}
	if exit := p.Stop(time.Second); exit.Signal != "SIGTERM" {
		t.Errorf("exit = %+v, want killed by SIGTERM", exit)
	}
}
