package hostile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// exchange sends DESCRIBE (with an Authorization when auth is set) and
// returns what arrives within wait, and the error that ended the read.
func exchange(t *testing.T, s *Server, auth string, wait time.Duration) (string, error) {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := fmt.Sprintf("DESCRIBE %s RTSP/1.0\r\nCSeq: 3\r\n", s.URL("cam"))
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(wait))
	var got strings.Builder
	_, err = io.Copy(&got, io.LimitReader(nc, 1<<20))
	return got.String(), err
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestModes: each mode answers a DESCRIBE the way its name says.
func TestModes(t *testing.T) {
	const basic = "Basic YWRtaW46cGFzcw=="
	cases := []struct {
		mode  Mode
		auth  string
		check func(got string, err error) string
	}{
		{AuthLoop, basic, func(got string, err error) string {
			return want(strings.HasPrefix(got, "RTSP/1.0 401") && strings.Contains(got, "stale=true"), "a stale 401")
		}},
		{HugeSDP, basic, func(got string, err error) string {
			return want(strings.Contains(got, fmt.Sprintf("Content-Length: %d\r\n", HugeSDPBytes)), "a 10 MB body announced")
		}},
		{HugeLength, basic, func(got string, err error) string {
			_, body, _ := strings.Cut(got, "\r\n\r\n")
			return want(strings.Contains(got, "Content-Length: 1099511627776\r\n") && strings.HasPrefix(body, "v=0") && timedOut(err), "2^40 announced, the body trickling")
		}},
		{ManyHeaders, basic, func(got string, err error) string {
			return want(strings.Count(got, "\r\nX-Hostile-") > 10_000, "a flood of header lines")
		}},
		{Trickle, basic, func(got string, err error) string {
			return want(len(got) <= 2 && timedOut(err), "a byte a second")
		}},
		{WrongCSeq, basic, func(got string, err error) string {
			return want(strings.Contains(got, "CSeq: 1003\r\n"), "CSeq 1003 for 3")
		}},
		{NoCSeq, basic, func(got string, err error) string {
			return want(strings.HasPrefix(got, "RTSP/1.0 200") && !strings.Contains(got, "CSeq"), "an answer without CSeq")
		}},
		{RTPBeforeSetup, basic, func(got string, err error) string {
			return want(strings.HasPrefix(got, "$\x00"), "an RTP frame before the answer")
		}},
		{GarbageFlood, basic, func(got string, err error) string {
			return want(len(got) == 1<<20 && strings.HasPrefix(got, "$\x00\xff\xff"), "65,535-byte frames without end")
		}},
		{Silent, basic, func(got string, err error) string { return want(got == "" && timedOut(err), "nothing") }},
		{Close, basic, func(got string, err error) string { return want(got == "" && err == nil, "a close") }},
		{Reset, basic, func(got string, err error) string {
			return want(got == "" && errors.Is(err, syscall.ECONNRESET), "a reset")
		}},
		{DigestThenBasic, `Digest username="admin", response="x"`, func(got string, err error) string {
			return want(strings.Contains(got, `WWW-Authenticate: Basic`) && !strings.Contains(got, "Digest"), "Basic asked after Digest")
		}},
		{EchoBasic, basic, func(got string, err error) string {
			return want(strings.HasPrefix(got, "RTSP/1.0 403 Forbidden: refused Authorization: "+basic), "the credentials quoted")
		}},
		{EchoDigest, `Digest username="admin", response="0123"`, func(got string, err error) string {
			return want(strings.Contains(got, `response="0123"`), "the Digest answer quoted")
		}},
		{Redirect, "", func(got string, err error) string {
			return want(strings.Contains(got, "RTSP/1.0 302") && strings.Contains(got, "Location: satip://127.0.0.1:9/x\r\n"), "a 302")
		}},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode), func(t *testing.T) {
			t.Parallel()
			s := start(t, Options{Mode: tc.mode, User: "admin", Pass: "pass", Location: "satip://127.0.0.1:9/x"})
			got, err := exchange(t, s, tc.auth, time.Second)
			if msg := tc.check(got, err); msg != "" {
				t.Errorf("%s; got %d bytes (%q…), read ended with %v", msg, len(got), got[:min(len(got), 120)], err)
			}
			if st := s.Stats(); st.Total != 1 {
				t.Errorf("stats %+v, want one connection", st)
			}
		})
	}
}

// TestStallAfterPlay: the camera reaches PLAY, sends part of a frame and
// then nothing; Close ends the stalled connection and every goroutine.
func TestStallAfterPlay(t *testing.T) {
	s, err := New(Options{Mode: Stall})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "PLAY %s RTSP/1.0\r\nCSeq: 1\r\n\r\n", s.URL("cam"))
	br := bufio.NewReader(nc)
	_ = nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	status, _ := br.ReadString('\n')
	if !strings.HasPrefix(status, "RTSP/1.0 200") {
		t.Fatalf("PLAY answered %q", status)
	}
	got, err := io.ReadAll(br)
	if !timedOut(err) || strings.Count(string(got), "$\x00") < 2 {
		t.Errorf("after PLAY: %d bytes, %v; want two packets, then silence", len(got), err)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if st := s.Stats(); st.Open != 0 {
		t.Errorf("stats after Close %+v", st)
	}
}

func want(ok bool, what string) string {
	if ok {
		return ""
	}
	return "want " + what
}
