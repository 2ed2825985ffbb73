package rtsprelay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// peerUID is the user owning the other end of a loopback TCP connection,
// as the kernel lists it in /proc/net/tcp: the socket whose local address
// is our peer's and whose remote address is ours.
func peerUID(nc net.Conn) (uint32, error) {
	local, ok1 := nc.RemoteAddr().(*net.TCPAddr)
	remote, ok2 := nc.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0, errors.New("not a TCP connection")
	}
	table, want, err := procNetKey(local, remote)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the heading
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[1]+" "+fields[2] != want {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: uid %q", table, fields[7])
		}
		return uint32(uid), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s lists no socket %s → %s (closed already?)", table, local, remote)
}

// procNetKey is the table to read and its "local remote" columns for a
// socket: each address is the IP's 32-bit words as the kernel prints them
// (native byte order, %08X each) and the port (%04X).
func procNetKey(local, remote *net.TCPAddr) (table, key string, err error) {
	enc := func(a *net.TCPAddr) string {
		ip := a.IP.To4()
		if ip == nil {
			ip = a.IP.To16()
		}
		var b strings.Builder
		for i := 0; i < len(ip); i += 4 {
			fmt.Fprintf(&b, "%08X", binary.NativeEndian.Uint32(ip[i:i+4]))
		}
		fmt.Fprintf(&b, ":%04X", a.Port)
		return b.String()
	}
	switch {
	case local.IP.To4() != nil && remote.IP.To4() != nil:
		table = "/proc/net/tcp"
	case local.IP.To4() == nil && remote.IP.To4() == nil:
		table = "/proc/net/tcp6"
	default:
		return "", "", errors.New("mixed address families")
	}
	return table, enc(local) + " " + enc(remote), nil
}
