package rtsprelay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerUID is the user owning the other end of a loopback TCP connection.
// The kernel says it through sock_diag, asked for that one socket (local
// address our peer's, remote ours): a lookup, not a listing, so it costs
// the same with ten sockets or ten thousand (reading /proc/net/tcp costs
// milliseconds on a busy machine).
func peerUID(nc net.Conn) (uint32, error) {
	peer, ok1 := nc.RemoteAddr().(*net.TCPAddr)
	us, ok2 := nc.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, errors.New("not a TCP connection")
	}
	req, family, err := diagRequest(peer, us)
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("sock_diag: %w", err)
	}
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.NLMSG_ERROR:
			if len(m.Data) >= 4 {
				if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
					return 0, fmt.Errorf("sock_diag: no socket %s → %s: %w", peer, us, syscall.Errno(-errno))
				}
			}
		case sockDiagByFamily:
			// struct inet_diag_msg: family, state, timer, retrans (4
			// bytes), inet_diag_sockid (48), expires, rqueue, wqueue,
			// uid, inode (u32 each).
			const uidAt = 4 + sockIDLen + 12
			if len(m.Data) < uidAt+4 || m.Data[0] != family {
				return 0, errors.New("sock_diag: short answer")
			}
			return binary.NativeEndian.Uint32(m.Data[uidAt:]), nil
		}
	}
	return 0, fmt.Errorf("sock_diag: no answer for %s → %s", peer, us)
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
