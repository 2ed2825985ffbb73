package rtsprelay

import (
	"strings"
	"testing"

	"camvisor/actors/camsim/hostile"
)

// newHostile serves a hostile camera (user admin, the password above).
func newHostile(t *testing.T, mode hostile.Mode, location string) *hostile.Server {
	t.Helper()
	s, err := hostile.New(hostile.Options{Mode: mode, User: "admin", Pass: password, Location: location})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestNoDigestDowngrade: a camera that asked for Digest and got it, then
// asks for Basic, never gets the password in clear; the client gets the
// camera's 401.
func TestNoDigestDowngrade(t *testing.T) {
	cam := newHostile(t, hostile.DigestThenBasic, "")
	r := newRelay(t, Options{})
	for range 3 { // each connection a new session, each refused
		p := open(t, r, cam.URL("cam"))
		if c, err := dial(t, p.URL()); err == nil {
			c.Close()
			t.Fatal("the client was served")
		}
		p.Close()
	}
	auths := cam.Authorizations()
	digests := 0
	for _, a := range auths {
		if !strings.HasPrefix(a, "Digest ") {
			t.Errorf("the camera received %q", a)
		}
		digests++
	}
	if digests == 0 {
		t.Error("the camera received no Digest answer: the test tested nothing")
	}
}
