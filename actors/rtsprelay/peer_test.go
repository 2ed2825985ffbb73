package rtsprelay

import (
	"net"
	"os"
	"testing"
	"time"

	"camvisor/actors/testkit"
)

// connected is both ends of a loopback TCP connection.
func connected(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestRelayRefusesClosedPeer: a client that closed before the relay looked
// (its socket TIME_WAIT, or FIN_WAIT2 held by no process) is reported by
// the kernel as uid 0 with no inode; it must not pass for root, which
// camvisor may run as. A live client of an allowed user passes.
func TestRelayRefusesClosedPeer(t *testing.T) {
	me := uint32(os.Getuid())
	r := newRelay(t, Options{AllowUID: func(uid uint32) bool { return uid == 0 || uid == me }})
	client, server := connected(t)
	if _, err := r.checkPeer(server); err != nil {
		t.Fatalf("a live client of ours was refused: %v", err)
	}
	client.Close()
	testkit.Eventually(t, 5*time.Second, "the client's socket closed (no longer established)", func() bool {
		p, err := peerOf(server)
		return err != nil || p.state != tcpEstablished
	})
	if _, err := r.checkPeer(server); err == nil {
		p, _ := peerOf(server)
		t.Fatalf("a closed client passed the check (kernel says %+v)", p)
	}
}
