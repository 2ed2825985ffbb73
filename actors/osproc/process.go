// Package osproc starts and stops the OS processes camvisor's actors own.
// A process runs in its own process group, dies with camvisor (parent-death
// signal), and is stopped by signalling its whole group and reaping it. The
// actors' process type (actors/process.go) is the only caller that starts
// processes; the reaper and the API use the /proc scanner in scan.go.
package osproc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Spec describes a process to start. Args never pass through a shell.
type Spec struct {
	Path string
	Args []string // without argv[0]
	// Env is the process's environment beyond what it inherits of
	// camvisor's, which is PATH and the locale (LANG, LC_*) only: camvisor's
	// environment may hold secrets (a systemd EnvironmentFile=, the
	// ${NAME} of a config), and a process's environment is readable in
	// /proc by its user and passed on to whatever it runs.
	Env       []string
	MaxStdout int // bytes of stdout kept; more is an error
	TailLines int // stderr lines kept
	// Stdout, when set, receives the process's stdout as it comes instead
	// of it being kept (MaxStdout does not apply): for a process that runs
	// on and writes as it goes. It is called from one goroutine of the
	// process's own and must not block.
	Stdout io.Writer
}

// Exit is how a process ended.
type Exit struct {
	Code       int    // exit status, -1 when a signal ended it
	Signal     string // the signal's name when one ended it
	Stdout     []byte
	StdoutOver bool // stdout exceeded MaxStdout and was cut
	StderrTail []string
	CPU        time.Duration
	At         time.Time
}

// Success reports a zero exit status.
func (e Exit) Success() bool { return e.Code == 0 && e.Signal == "" }

// Process is a running (or ended) child process.
type Process struct {
	PID     int
	Started time.Time

	done chan struct{}
	exit Exit

	// mu orders signals against reaping: once reaped is set, the group id
	// may be reused by the kernel and must not be signalled. A mutex and not
	// a message because the reaping goroutine is not an actor and must not
	// depend on one being alive.
	mu     sync.Mutex
	reaped bool
}

// Start starts spec's process and returns once it runs (or failed to).
//
// The process is forked from one OS thread that lives as long as camvisor
// (forker): Linux sends the parent-death signal when the thread that
// forked exits, not the process (golang/go#27505). A goroutine of its own
// then waits for the process and reaps it.
func Start(spec Spec) (*Process, error) {
	p := &Process{done: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(spec, started)
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// forker runs every fork of this package on one OS thread that never
// exits: a child's parent-death signal fires only when camvisor dies.
// Before it, each process was started and waited on by a goroutine
// locked to a thread of its own that exited with it: one OS thread made
// and destroyed per capture, and Go's CPU profiler lost up to 10 ms of
// each dying thread's samples (it missed three quarters of camvisor's CPU
// on a busy patrol; BenchmarkOwnCostPerCapture).
var forker = sync.OnceValue(func() chan<- func() {
	jobs := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked, and this goroutine never returns
		for job := range jobs {
			job()
		}
	}()
	return jobs
})

// onForker runs f on the forker thread and returns when it is done.
func onForker(f func()) {
	done := make(chan struct{})
	forker() <- func() {
		defer close(done)
		f()
	}
	<-done
}

// programs are the paths programs named without a slash were found at
// in PATH, by name: exec.Command looked each one up again for every
// process, a failed stat per directory of PATH before the right one.
var programs sync.Map

// lookPath is exec.LookPath of name, remembered once found.
func lookPath(name string) string {
	if strings.Contains(name, "/") {
		return name
	}
	if p, ok := programs.Load(name); ok {
		return p.(string)
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return name // exec.Command reports it
	}
	programs.Store(name, p)
	return p
}

// devNull is every process's stdin, opened once: an *os.File is handed to
// the process as it is, where exec.Cmd opened /dev/null anew for each.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

func (p *Process) run(spec Spec, started chan<- error) {
	path := lookPath(spec.Path)
	cmd := exec.Command(path, spec.Args...)
	cmd.Args[0] = spec.Path // as named, as exec.Command would have
	if null, err := devNull(); err == nil {
		cmd.Stdin = null
	}
	cmd.Env = append(inherited(os.Environ()), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout := &limitedBuffer{max: spec.MaxStdout}
	stderr := &tailWriter{max: spec.TailLines}
	cmd.Stdout = stdout
	if spec.Stdout != nil {
		cmd.Stdout = spec.Stdout
	}
	cmd.Stderr = stderr
	// A grandchild holding our pipes must not keep Wait blocked.
	cmd.WaitDelay = time.Second
	var err error
	onForker(func() { err = cmd.Start() })
	if err != nil {
		programs.Delete(spec.Path) // moved or removed: look again next time
		started <- err
		return
	}
	p.PID = cmd.Process.Pid
	p.Started = time.Now()
	started <- nil

	// Wait for the exit without reaping, kill whatever is left of the
	// group while its id is still reserved by the zombie leader, then reap.
	waitExited(p.PID)
	p.mu.Lock()
	_ = syscall.Kill(-p.PID, syscall.SIGKILL)
	p.reaped = true
	p.mu.Unlock()
	err = cmd.Wait()

	exit := Exit{Code: -1, At: time.Now(), Stdout: stdout.buf.Bytes(), StdoutOver: stdout.over, StderrTail: stderr.lines()}
	if st := cmd.ProcessState; st != nil {
		exit.CPU = st.UserTime() + st.SystemTime()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exit.Signal = SignalName(ws.Signal())
		} else {
			exit.Code = st.ExitCode()
		}
	} else if err != nil {
		exit.StderrTail = append(exit.StderrTail, err.Error())
	}
	p.exit = exit
	close(p.done)
}

// inherited is what a process takes of environ (camvisor's): the program
// search path and the locale, nothing else.
func inherited(environ []string) []string {
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if name == "PATH" || name == "LANG" || strings.HasPrefix(name, "LC_") {
			env = append(env, kv)
		}
	}
	return env
}

// Done is closed once the process has been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is how the process ended; valid once Done is closed.
func (p *Process) Exit() Exit {
	<-p.done
	return p.exit
}

// Signal sends sig to the process's whole group, unless it was reaped.
func (p *Process) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		_ = syscall.Kill(-p.PID, sig)
	}
}

// Stop signals the group with SIGTERM, then SIGKILL after grace, and
// returns once the process is reaped.
func (p *Process) Stop(grace time.Duration) Exit {
	select {
	case <-p.done:
		return p.exit
	default:
	}
	p.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
	return p.exit
}

// waitExited returns once pid has exited, leaving it unreaped (WNOWAIT).
//
// It waits in Go's network poller on a pidfd, which turns readable when
// the process exits: no thread sits in a blocking system call for the
// process's life. A blocking waitid held a P in a system call until Go's
// scheduler monitor (sysmon) took it back, once per capture, and every
// take kept sysmon waking every 20 µs for a while: a third of camvisor's
// CPU on a busy patrol went to those wake-ups
// (BenchmarkOwnCostPerCapture). A kernel without pidfds (before 5.3)
// gets the blocking wait.
func waitExited(pid int) {
	if waitExitedPolled(pid) {
		return
	}
	var info siginfo
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|unix.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

const pPID = 1 // waitid's idtype P_PID

type siginfo [128]byte

// waitExitedPolled is waitExited on a pidfd in the poller; false when the
// kernel offers no pidfd (or the poller does not take it): then nothing
// was waited for.
func waitExitedPolled(pid int) bool {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	polled := true
	err = rc.Read(func(fd uintptr) bool {
		var info siginfo
		_, _, errno := syscall.RawSyscall6(syscall.SYS_WAITID, unix.P_PIDFD, fd,
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|unix.WNOWAIT|syscall.WNOHANG, 0, 0)
		switch errno {
		case 0:
			return siPID(&info) != 0 // 0: still running, wait for the pidfd to turn readable
		case syscall.EINTR:
			return false
		}
		polled = false // the wait cannot be done here: do it the blocking way
		return true
	})
	return err == nil && polled
}

// siPID is a siginfo_t's si_pid: after signo, errno, code and padding on
// every 64-bit Linux.
func siPID(info *siginfo) int32 {
	return int32(binary.NativeEndian.Uint32(info[16:20]))
}

// SignalName is the conventional name of sig ("SIGKILL").
func SignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGPIPE:
		return "SIGPIPE"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// limitedBuffer keeps at most max bytes (all when max is 0).
type limitedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.max > 0 && b.buf.Len()+len(p) > b.max {
		b.over = true
		b.buf.Write(p[:b.max-b.buf.Len()])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// ReadFrom copies r into the buffer through a pooled chunk: exec.Cmd
// copies a process's pipe with io.Copy, which allocated 32 KB for each
// process's stdout and stderr.
func (b *limitedBuffer) ReadFrom(r io.Reader) (int64, error) { return copyPooled(b, r) }

// ReadFrom is limitedBuffer.ReadFrom's for stderr.
func (w *tailWriter) ReadFrom(r io.Reader) (int64, error) { return copyPooled(w, r) }

// chunks are the buffers process output is copied through.
var chunks = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// copyPooled copies r to w until r ends, through a chunk of the pool.
func copyPooled(w io.Writer, r io.Reader) (int64, error) {
	buf := chunks.Get().(*[32 << 10]byte)
	defer chunks.Put(buf)
	var n int64
	for {
		k, err := r.Read(buf[:])
		if k > 0 {
			w.Write(buf[:k]) // never fails
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// tailWriter keeps the last max lines written.
type tailWriter struct {
	max     int
	partial []byte
	tail    []string
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.push(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 4096 { // a line without end: keep its start
		w.push(string(w.partial[:4096]))
		w.partial = nil
	}
	return len(p), nil
}

func (w *tailWriter) push(line string) {
	line = strings.TrimRight(line, "\r")
	if line == "" || w.max == 0 {
		return
	}
	w.tail = append(w.tail, line)
	if len(w.tail) > w.max {
		w.tail = w.tail[len(w.tail)-w.max:]
	}
}

func (w *tailWriter) lines() []string {
	if len(w.partial) > 0 {
		w.push(string(w.partial))
		w.partial = nil
	}
	return w.tail
}
