package actors

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// The instance lock: one camvisor process per record (invariant 8, within
// a machine). Start takes an exclusive flock on <db>.lock before it opens
// the record, sweeps for processes of earlier runs or starts anything; a
// second `camvisor run` on the same record is refused at once, naming the
// holder, and touches nothing. The kernel drops the lock when its holder
// exits, however it exits (SIGKILL included), and the descriptor is
// close-on-exec, so no ffmpeg child inherits it: a process of another run
// of this installation (osproc.OtherRun) is always one of an earlier run
// that no live camvisor holds the lock for, which is what lets the reaper
// kill it.

// ErrInstanceLocked is the error of a Start whose record another live
// camvisor holds.
var ErrInstanceLocked = errors.New("another camvisor runs on this record")

// instanceLock is a held lock on <db>.lock.
type instanceLock struct {
	f *os.File
}

// LockPath is the instance lock's file for the record at db.
func LockPath(db string) string { return db + ".lock" }

// lockInstance takes the lock of the record at db, and writes this
// process's pid and listen address into it, for a refused second instance
// to name.
func lockInstance(db, listen string) (*instanceLock, error) {
	path := LockPath(db)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := readHolder(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by %s; stop that one first (this one touched nothing)", ErrInstanceLocked, path, holder)
		}
		return nil, fmt.Errorf("instance lock %s: %w", path, err)
	}
	l := &instanceLock{f: f}
	if err := l.announce(listen); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// announce rewrites the holder's line: pid and listen address (known only
// once the HTTP server listens, when the configuration asks for port 0).
func (l *instanceLock) announce(listen string) error {
	line := "pid " + strconv.Itoa(os.Getpid()) + " listen " + listen + "\n"
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("instance lock %s: %w", l.f.Name(), err)
	}
	if _, err := l.f.WriteAt([]byte(line), 0); err != nil {
		return fmt.Errorf("instance lock %s: %w", l.f.Name(), err)
	}
	return nil
}

// release drops the lock. The file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *instanceLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// readHolder reads who holds the lock, as its holder wrote it.
func readHolder(f *os.File) string {
	b := make([]byte, 256)
	n, _ := f.ReadAt(b, 0)
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return "a process that has not written its pid yet"
	}
	return s
}

// SetListen tells the tree the address its HTTP server listens on: the
// instance lock names it to a refused second instance, and in a cluster
// it is the URL the other nodes forward to unless cluster.advertise says
// otherwise.
func (t *Tree) SetListen(addr string) {
	t.listen.Store(addr)
	if t.lock != nil {
		if err := t.lock.announce(addr); err != nil {
			t.env.Log.Warn("instance lock: cannot write the listen address", "reason", err.Error())
		}
	}
	t.announceListen(addr)
}
