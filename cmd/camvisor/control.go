package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"camvisor/actors"
	"camvisor/messages"

	"golang.org/x/sys/unix"
)

// The control socket: how `camvisor reload` (systemd's ExecReload) asks
// the running server to reload and learns whether it did, so that
// `systemctl reload` fails when the new file is rejected — a signal
// (kill -HUP) cannot carry the answer back. It is a unix socket of mode
// 0600 in a directory only the service's user reaches (RuntimeDirectory=,
// mode 0700); the server also checks the peer's uid (SO_PEERCRED): its
// own, or root's.
//
// One request per connection: the line "reload", answered with one JSON
// line (controlAnswer).

// controlAnswer is the server's answer to a reload.
type controlAnswer struct {
	Outcome string   `json:"outcome"` // messages.Reload*
	Error   string   `json:"error,omitempty"`
	Lines   []string `json:"lines,omitempty"`
	Status  string   `json:"status"` // what systemd's STATUS= says now
}

// reloader runs one reload at a time and tells systemd about it:
// RELOADING=1 before, READY=1 and the outcome after.
type reloader struct {
	tree    *actors.Tree
	sd      *notifier
	log     *slog.Logger
	timeout time.Duration

	// mu keeps one reload's RELOADING=1 ... READY=1 from interleaving with
	// another's (SIGHUP and the control socket arrive on different
	// goroutines); the tree serializes the reloads themselves.
	mu sync.Mutex
}

func (r *reloader) reload(who string) (controlAnswer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sd.notify("RELOADING=1", monotonicUsec(), "STATUS=reloading the configuration ("+who+")")
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	rec, err := r.tree.Reload(ctx, who)
	cancel()
	ans := controlAnswer{Status: patrolling(r.tree.Config())}
	if rec != nil {
		ans.Outcome, ans.Error, ans.Lines = rec.Outcome, rec.Error, rec.Lines
	}
	switch {
	case err != nil && ans.Outcome == "":
		ans.Outcome, ans.Error = messages.ReloadRejected, err.Error()
		fallthrough
	case ans.Outcome == messages.ReloadRejected:
		ans.Status = "reload rejected, the previous configuration runs: " + oneLine(ans.Error) + "; " + ans.Status
	case ans.Outcome == messages.ReloadIncomplete:
		ans.Status = "reload incomplete: " + oneLine(ans.Error) + "; " + ans.Status
	}
	r.sd.notify("READY=1", "STATUS="+ans.Status)
	return ans, err
}

// controlServer serves the control socket.
type controlServer struct {
	ln   *net.UnixListener
	r    *reloader
	log  *slog.Logger
	wg   sync.WaitGroup
	uid  int
	path string
}

// listenControl opens the control socket at path. A socket left there by
// a dead server is replaced; one a live server answers on is not.
func listenControl(path string, r *reloader, log *slog.Logger) (*controlServer, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("control socket %s: a file that is not a socket is in the way", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another camvisor answers on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	s := &controlServer{ln: ln, r: r, log: log, uid: os.Getuid(), path: path}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

func (s *controlServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket: accept failed; camvisor reload will not reach this server", "reason", err.Error())
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			s.handle(c)
		}()
	}
}

func (s *controlServer) handle(c *net.UnixConn) {
	uid, err := peerUID(c)
	if err != nil || (uid != s.uid && uid != 0) {
		s.log.Warn("control socket: refused a peer", "uid", uid, "reason", fmt.Sprint(err))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 256)).ReadString('\n')
	if err != nil {
		return
	}
	var ans controlAnswer
	switch cmd := strings.TrimSpace(line); cmd {
	case "reload":
		ans, _ = s.r.reload("camvisor reload")
	default:
		ans = controlAnswer{Outcome: "unknown", Error: fmt.Sprintf("unknown request %q: want reload", cmd)}
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = json.NewEncoder(c).Encode(ans)
}

// close stops accepting, removes the socket and waits for the requests
// being answered.
func (s *controlServer) close() {
	s.ln.Close()
	s.wg.Wait()
}

// peerUID is the uid of the process at the other end (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if serr != nil {
		return -1, serr
	}
	return int(cred.Uid), nil
}
