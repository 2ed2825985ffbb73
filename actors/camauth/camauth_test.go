package camauth

import (
	"strings"
	"testing"
)

// TestNeverDowngrades: once a connection answered Digest, a challenge for
// Basic only is refused (the 401 goes to the client), whatever comes with
// it: Basic would send the password in clear to a camera that already
// proved it can do better, or to whoever stands in its place.
func TestNeverDowngrades(t *testing.T) {
	a := Client{User: "admin", Pass: "S3cret"}
	if !a.Accept([]string{`Digest realm="cam", nonce="n1"`}, false) {
		t.Fatal("a Digest challenge was not taken")
	}
	if h := a.Header("DESCRIBE", "rtsp://cam/x"); !strings.HasPrefix(h, "Digest ") {
		t.Fatalf("answer %q, want Digest", h)
	}
	for _, ch := range [][]string{
		{`Basic realm="cam"`},
		{`basic realm="cam"`, `Negotiate`},
		{`Digest realm="cam", nonce="n2", algorithm=MD5-sess`, `Basic realm="cam"`}, // a Digest it cannot answer, and Basic
	} {
		if a.Accept(ch, true) {
			t.Errorf("challenges %q after Digest were taken", ch)
		}
		if h := a.Header("DESCRIBE", "rtsp://cam/x"); strings.HasPrefix(h, "Basic") {
			t.Errorf("after %q the answer is %q", ch, h)
		}
	}
	// A new Digest challenge (a new nonce) is still answered.
	if !a.Accept([]string{`Digest realm="cam", nonce="n3"`, `Basic realm="cam"`}, true) {
		t.Error("a fresh Digest challenge after Digest was refused")
	}
}

// TestBasicWhenOnlyBasic: a camera that never offered Digest gets Basic.
func TestBasicWhenOnlyBasic(t *testing.T) {
	a := Client{User: "admin", Pass: "S3cret"}
	if !a.Accept([]string{`Basic realm="cam"`}, false) {
		t.Fatal("Basic refused on first contact")
	}
	if h := a.Header("GET", "/x"); h != "Basic YWRtaW46UzNjcmV0" {
		t.Errorf("answer %q", h)
	}
	if a.Accept([]string{`Basic realm="cam"`}, true) {
		t.Error("Basic taken again after its answer was refused")
	}
}
