package rtsprelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// peer is what the kernel says of the other end of a loopback TCP
// connection: its socket's state, owner and inode.
type peer struct {
	state uint8  // TCP state (tcpEstablished …)
	uid   uint32 // owner; 0 for a socket no process holds any more
	inode uint32 // 0 for a socket no process holds any more
}

// tcpEstablished is the kernel's TCP_ESTABLISHED.
const tcpEstablished = 1

// peerOf asks the kernel about the other end of a loopback TCP connection
// through sock_diag, for that one socket (local address our peer's,
// remote ours): a lookup, not a listing, so it costs the same with ten
// sockets or ten thousand (reading /proc/net/tcp costs milliseconds on a
// busy machine).
func peerOf(nc net.Conn) (peer, error) {
	remote, ok1 := nc.RemoteAddr().(*net.TCPAddr)
	us, ok2 := nc.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return peer{}, errors.New("not a TCP connection")
	}
	req, family, err := diagRequest(remote, us)
	if err != nil {
		return peer{}, err
	}
	buf := make([]byte, 4096)
	n, err := diag.ask(req, buf)
	if err != nil {
		return peer{}, fmt.Errorf("sock_diag: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return peer{}, fmt.Errorf("sock_diag: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return peer{}, fmt.Errorf("sock_diag: no socket %s → %s: %w", remote, us, syscall.Errno(-errno))
				}
			}
		case sockDiagByFamily:
			// struct inet_diag_msg: family, state, timer, retrans (4
			// bytes), inet_diag_sockid (48), expires, rqueue, wqueue,
			// uid, inode (u32 each).
			const uidAt = 4 + sockIDLen + 12
			if len(m.Data) < uidAt+8 || m.Data[0] != family {
				return peer{}, errors.New("sock_diag: short answer")
			}
			return peer{state: m.Data[1], uid: binary.NativeEndian.Uint32(m.Data[uidAt:]),
				inode: binary.NativeEndian.Uint32(m.Data[uidAt+4:])}, nil
		}
	}
	return peer{}, fmt.Errorf("sock_diag: no answer for %s → %s", remote, us)
}

// diag is the netlink socket every sock_diag question goes through,
// opened at the first and kept: a socket opened and closed per question
// was two more system calls, and a kernel socket made and freed, for
// every relayed snapshot (BenchmarkOwnCostPerCapture). One question at a
// time: each answer is the one datagram that follows its question.
var diag diagSocket

type diagSocket struct {
	mu sync.Mutex // a message would not do: relay connections are goroutines, not actors
	fd int
	ok bool // fd is open
}

// ask sends req and reads its answer into buf. On any error the socket is
// closed, so that no stale answer is read for the next question.
func (d *diagSocket) ask(req, buf []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.ok {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
		if err != nil {
			return 0, err
		}
		d.fd, d.ok = fd, true
	}
	err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	n := 0
	if err == nil {
		n, _, err = unix.Recvfrom(d.fd, buf, 0)
	}
	if err != nil {
		unix.Close(d.fd)
		d.ok = false
		return 0, err
	}
	return n, nil
}

// checkPeer decides whether a new connection may use the relay: its
// other end must be an established socket that a process holds (an
// inode) of a user AllowUID accepts. A client that already closed leaves
// a socket no process holds (FIN_WAIT, TIME_WAIT), which the kernel
// reports as uid 0 with no inode: it must not pass for root, which
// camvisor may run as.
//
// It also names the client for the relay's log limits: its uid, which is
// all that tells one local client from another on loopback.
func (r *Relay) checkPeer(nc net.Conn) (who string, err error) {
	p, err := peerOf(nc)
	if err != nil {
		return "unknown", fmt.Errorf("owner unknown: %w", err)
	}
	who = fmt.Sprintf("uid %d", p.uid)
	if p.state != tcpEstablished || p.inode == 0 {
		return "closed", fmt.Errorf("the client's socket is closed or held by no process (TCP state %d, inode %d)", p.state, p.inode)
	}
	if !r.opts.AllowUID(p.uid) {
		return who, fmt.Errorf("uid %d may not use the relay", p.uid)
	}
	return who, nil
}

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	sockIDLen        = 48 // struct inet_diag_sockid
	reqLen           = 56 // struct inet_diag_req_v2
)

// diagRequest is a netlink SOCK_DIAG_BY_FAMILY request for the one TCP
// socket whose local address is src and remote address dst.
func diagRequest(src, dst *net.TCPAddr) ([]byte, uint8, error) {
	family := uint8(unix.AF_INET)
	s4, d4 := src.IP.To4(), dst.IP.To4()
	switch {
	case s4 != nil && d4 != nil:
	case s4 == nil && d4 == nil:
		family = unix.AF_INET6
	default:
		return nil, 0, errors.New("mixed address families")
	}
	b := make([]byte, unix.NLMSG_HDRLEN+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	r := b[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xFFFFFFFF) // every TCP state
	id := r[8:]
	binary.BigEndian.PutUint16(id[0:], uint16(src.Port))
	binary.BigEndian.PutUint16(id[2:], uint16(dst.Port))
	if family == unix.AF_INET {
		copy(id[4:], s4)
		copy(id[20:], d4)
	} else {
		copy(id[4:], src.IP.To16())
		copy(id[20:], dst.IP.To16())
	}
	ne.PutUint32(id[40:], 0xFFFFFFFF) // no cookie: look the socket up by its addresses
	ne.PutUint32(id[44:], 0xFFFFFFFF)
	return b, family, nil
}
