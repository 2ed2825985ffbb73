package osproc

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables every process camvisor starts carries, so that it
// can be recognised from /proc alone, even after camvisor died.
const (
	EnvRun   = "CAMVISOR_RUN"   // the run id of the camvisor that started it
	EnvOwner = "CAMVISOR_OWNER" // the path of the owning actor
	// EnvHome names the installation (the record's absolute path): a
	// camvisor reaps the processes of its own earlier runs, never those of
	// another camvisor on the same machine.
	EnvHome = "CAMVISOR_HOME"
)

// Info is one process as /proc shows it.
type Info struct {
	PID     int           `json:"os_pid"`
	PGID    int           `json:"pgid"`
	PPID    int           `json:"ppid"`
	Name    string        `json:"name"` // the executable's base name
	Argv    []string      `json:"argv"` // as /proc shows it: redact before showing
	Run     string        `json:"run,omitempty"`
	Owner   string        `json:"owner,omitempty"`
	Home    string        `json:"home,omitempty"`
	State   string        `json:"state"` // R, S, Z ...
	StartAt uint64        `json:"-"`     // clock ticks after boot
	CPU     time.Duration `json:"-"`     // user and system time used so far

	kernel bool // a kernel thread: no command line, no environment
}

// Camera is the camera id in the owner's actor path
// (root/patrol/subnet/lab/camera/cam1/ffmpeg/7 → cam1), or "".
func (i Info) Camera() string {
	_, rest, ok := strings.Cut(i.Owner, "/camera/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// Class is what a process is to one camvisor run, by its tags.
type Class int

// Classes of processes.
const (
	// NotOurs is untagged (someone else's) or another installation's
	// (another camvisor on this machine): counted, never touched.
	NotOurs Class = iota
	// OtherRun is tagged by another run of this installation: left by an
	// earlier run that died. A camvisor holds its record's instance lock
	// (actors/instance.go) while it runs, so no live camvisor owns it.
	OtherRun
	// ThisRun is tagged by this run.
	ThisRun
)

// Classify says what p is to the run of installation home.
func Classify(p Info, run, home string) Class {
	switch {
	case p.Run == "" || p.Home != home:
		return NotOurs
	case p.Run != run:
		return OtherRun
	}
	return ThisRun
}

// Zombie reports a process that exited and waits to be reaped.
func (i Info) Zombie() bool { return i.State == "Z" }

// Scan lists the live processes whose executable's base name is name
// ("ffmpeg"); all processes when name is empty. Processes that vanish
// while being read are skipped.
//
// It reads each process's stat first, which names its command (comm), and
// opens cmdline and environ only of the processes so named: on a machine
// of a hundred processes and a few ffmpeg, a scan reads a third of the
// files. It runs every few seconds (the census) and on every /metrics
// scrape.
func Scan(name string) []Info {
	var out []Info
	for _, info := range stats() {
		if name != "" && !commIs(info.Name, name) {
			continue
		}
		readDetails(&info)
		if name != "" && info.Name != name {
			continue
		}
		out = append(out, info)
	}
	return out
}

// ScanTagged lists the processes the reaper judges: every live process
// that carries camvisor's tags, whatever its name (a wrapper's helper),
// and every one whose executable's base name is name ("ffmpeg"; counted
// even when untagged). Processes that vanish while being read are
// skipped.
//
// The tags are in the environment, so every process's must be read; but
// kernel threads, most of a quiet machine's processes, are told from
// their stat and skipped, and cmdline is opened only of the processes
// tagged or so named. It runs every few seconds (the census).
func ScanTagged(name string) []Info {
	var out []Info
	for dir, info := range stats() {
		if info.kernel {
			continue
		}
		readEnviron(dir, &info)
		if info.Run == "" && !commIs(info.Name, name) {
			continue
		}
		readCmdline(dir, &info)
		if info.Run == "" && info.Name != name {
			continue
		}
		out = append(out, info)
	}
	return out
}

// stats yields every process's stat (readStat) with its /proc directory;
// processes that vanish while being read are left out.
func stats() iter.Seq2[string, Info] {
	return func(yield func(string, Info) bool) {
		entries, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if info, ok := readStat(pid); ok && !yield(filepath.Join("/proc", e.Name()), info) {
				return
			}
		}
	}
}

// commLen is the most of an executable's name the kernel keeps as comm
// (TASK_COMM_LEN 16, with the NUL).
const commLen = 15

// commIs reports whether comm may be the command name of an executable
// named name: the kernel cuts comm to commLen bytes.
func commIs(comm, name string) bool {
	return comm == name || len(name) > commLen && comm == name[:commLen]
}

// Read reads one process from /proc.
func Read(pid int) (Info, bool) {
	info, ok := readStat(pid)
	if ok {
		readDetails(&info)
	}
	return info, ok
}

// readStat reads /proc/PID/stat: state, parent, group, start time, and the
// command name (comm) as Name.
func readStat(pid int) (Info, bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return Info{}, false
	}
	// The command name is in parentheses and may itself contain them.
	start := bytes.IndexByte(stat, '(')
	end := bytes.LastIndexByte(stat, ')')
	if start < 0 || end < start {
		return Info{}, false
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 20 {
		return Info{}, false
	}
	info := Info{PID: pid, State: fields[0], Name: string(stat[start+1 : end])}
	const kernelThread = 0x00200000 // PF_KTHREAD, in the flags field
	flags, _ := strconv.ParseUint(fields[6], 10, 64)
	info.kernel = flags&kernelThread != 0
	info.PPID, _ = strconv.Atoi(fields[1])
	info.PGID, _ = strconv.Atoi(fields[2])
	info.StartAt, _ = strconv.ParseUint(fields[19], 10, 64)
	utime, _ := strconv.ParseUint(fields[11], 10, 64)
	stime, _ := strconv.ParseUint(fields[12], 10, 64)
	info.CPU = time.Duration(utime+stime) * (time.Second / clockTicks)
	return info, true
}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux Go
// runs on.
const clockTicks = 100

// CPUTime is the CPU time process pid has used so far (user and system),
// from /proc/PID/stat alone.
func CPUTime(pid int) (time.Duration, bool) {
	info, ok := readStat(pid)
	return info.CPU, ok
}

// Sched is what the scheduler says of a process (/proc/PID/schedstat): the
// time it ran, and the time it was ready to run but waited for a CPU.
type Sched struct {
	Ran, Queued time.Duration
}

// ReadSched reads /proc/PID/schedstat; false when the process is gone or
// the kernel keeps no such statistics, in which case Ran comes from
// /proc/PID/stat and Queued is unknown (0).
func ReadSched(pid int) (Sched, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "schedstat"))
	if f := strings.Fields(string(data)); err == nil && len(f) >= 2 {
		ran, err1 := strconv.ParseInt(f[0], 10, 64)
		queued, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 == nil && err2 == nil {
			return Sched{Ran: time.Duration(ran), Queued: time.Duration(queued)}, true
		}
	}
	cpu, ok := CPUTime(pid)
	return Sched{Ran: cpu}, ok
}

// readDetails adds what cmdline and environ say: the argv (and Name from
// it, when there is one) and camvisor's tags.
func readDetails(info *Info) {
	dir := filepath.Join("/proc", strconv.Itoa(info.PID))
	readCmdline(dir, info)
	readEnviron(dir, info)
}

// readCmdline adds the argv from /proc/PID/cmdline, and Name from it when
// there is one.
func readCmdline(dir string, info *Info) {
	cmdline, _ := os.ReadFile(filepath.Join(dir, "cmdline"))
	for _, a := range bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0}) {
		if len(a) > 0 {
			info.Argv = append(info.Argv, string(a))
		}
	}
	if len(info.Argv) > 0 {
		info.Name = filepath.Base(info.Argv[0])
	}
}

// readEnviron adds camvisor's tags from /proc/PID/environ.
func readEnviron(dir string, info *Info) {
	environ, _ := os.ReadFile(filepath.Join(dir, "environ"))
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(EnvRun+"=")); ok {
			info.Run = string(v)
		} else if v, ok := bytes.CutPrefix(kv, []byte(EnvOwner+"=")); ok {
			info.Owner = string(v)
		} else if v, ok := bytes.CutPrefix(kv, []byte(EnvHome+"=")); ok {
			info.Home = string(v)
		}
	}
}

// ErrGone is KillGroup's answer for a process that already ended (or
// whose pid another process took).
var ErrGone = errors.New("process already gone")

// KillGroup sends SIGKILL to pid's process group if pid still leads one
// started at startAt (guarding against a reused pid), else to pid alone.
func KillGroup(info Info) error {
	now, ok := Read(info.PID)
	if !ok || now.StartAt != info.StartAt || now.Zombie() {
		return ErrGone
	}
	if now.PGID == now.PID {
		return syscall.Kill(-now.PID, syscall.SIGKILL)
	}
	return syscall.Kill(now.PID, syscall.SIGKILL)
}

// Age is how long the process has run, from /proc (clock ticks since boot).
func Age(info Info) time.Duration {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0
	}
	var up float64
	if _, err := fmt.Sscanf(string(data), "%f", &up); err != nil {
		return 0
	}
	age := up - float64(info.StartAt)/clockTicks
	if age < 0 {
		return 0
	}
	return time.Duration(age * float64(time.Second))
}
