package main

import (
	"fmt"
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// notifier tells systemd how a Type=notify service is doing: the
// sd_notify protocol, one datagram of NAME=value lines to the unix socket
// named by $NOTIFY_SOCKET (a path, or an abstract name written with a
// leading @, which Go's net package understands). A nil notifier (no
// $NOTIFY_SOCKET: not under systemd) does nothing.
type notifier struct {
	addr *net.UnixAddr
}

// newNotifier reads $NOTIFY_SOCKET and takes it out of the environment,
// so that no child (ffmpeg) inherits it and speaks for the service.
func newNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	os.Unsetenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	return &notifier{addr: &net.UnixAddr{Name: path, Net: "unixgram"}}
}

// notify sends one message. systemd ignores what it does not know; a
// failure to send is returned for the log and changes nothing else.
func (n *notifier) notify(lines ...string) error {
	if n == nil {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer c.Close()
	msg := strings.Join(lines, "\n")
	// STATUS= is one line.
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\r", " ")
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// monotonicUsec is MONOTONIC_USEC=..., which systemd 253's
// Type=notify-reload wants beside RELOADING=1 (older ones ignore it).
func monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "MONOTONIC_USEC=0"
	}
	return fmt.Sprintf("MONOTONIC_USEC=%d", ts.Nano()/1000)
}

// oneLine makes s fit a STATUS= value.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
