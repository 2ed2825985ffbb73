package rtsprelay

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/camsim/hostile"
	"camvisor/actors/testkit"
)

// describe sends one DESCRIBE for u through a new connection to the relay
// and returns the answer as the client reads it.
func describe(t *testing.T, r *Relay, u string) *message {
	t.Helper()
	nc, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "DESCRIBE %s RTSP/1.0\r\nCSeq: 4\r\nAccept: application/sdp\r\n\r\n", u)
	res, err := readMessage(bufio.NewReaderSize(nc, frameBuffer))
	if err != nil {
		t.Fatalf("no answer to DESCRIBE: %v", err)
	}
	return res
}

// redirectSchemes are the Locations a camera may send a client to.
var redirectSchemes = []string{"rtsp", "rtsps", "satip", "http", "https", "rtmp", "tcp", "udp", "tls", "ftp"}

// TestRelayRefusesRedirectsElsewhere: a camera's 3xx to anywhere but its
// own host reaches no client: the relay answers 502 with why, the
// Location in no form; ffmpeg, given the relay's answer, connects nowhere
// else (a listener at the Location sees nothing).
func TestRelayRefusesRedirectsElsewhere(t *testing.T) {
	testkit.RequireFFmpeg(t)
	for _, scheme := range redirectSchemes {
		t.Run(scheme, func(t *testing.T) {
			target := testkit.Bystander(t)
			_, targetPort, _ := net.SplitHostPort(target.Addr())
			location := scheme + "://" + target.Addr() + "/elsewhere"
			cam := newHostile(t, hostile.Redirect, location)
			r := newRelay(t, Options{})
			p := open(t, r, cam.URL("cam"))
			res := describe(t, r, p.URL())
			shown := string(res.appendTo(nil))
			if res.status() != 502 || !strings.Contains(shown, "redirect") {
				t.Errorf("the client was answered:\n%s", shown)
			}
			if strings.Contains(shown, targetPort) || res.get("Location") != "" {
				t.Errorf("the client saw the redirect's target:\n%s", shown)
			}
			var stderr bytes.Buffer
			cmd := exec.Command("ffmpeg", snapshot(p.URL())...)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err == nil {
				t.Error("ffmpeg succeeded")
			}
			if n := target.Connections(); n != 0 {
				t.Errorf("the redirect's target saw %d connections; ffmpeg said:\n%s", n, stderr.String())
			}
		})
	}
}

// TestRelayFollowsRedirectOnItsHost: a 3xx to another path of the same
// camera is followed by the relay on its own camera connection, with the
// credentials; the client reads the stream at its relay URL, one camera
// connection in all.
func TestRelayFollowsRedirectOnItsHost(t *testing.T) {
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	tap := newTap(t, cams.RTSPAddr(), false)
	tap.toClient = func(_ net.Conn, m *message) bool {
		if m.status() == 404 { // camsim knows no "old": the camera moved it
			m.start = "RTSP/1.0 301 Moved Permanently"
			m.set("Location", "rtsp://"+tap.addr()+"/front")
		}
		return true
	}
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:"+url.PathEscape(password)+"@"+tap.addr()+"/old")
	c, err := dial(t, p.URL())
	if err != nil {
		t.Fatalf("through a redirect on the camera's host: %v (camera saw %q)", err, tap.requestLines())
	}
	nextFrame(t, c)
	c.Close()
	if st := cams.Stats("front"); st.Total != 1 {
		t.Errorf("camsim counts %+v, want one connection", st)
	}
}

// TestRelayRedirectLoopEnds: a camera that redirects to itself forever
// gets a bounded number of requests per client request, and the client a
// 502.
func TestRelayRedirectLoopEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cam, err := hostile.New(hostile.Options{Mode: hostile.Redirect, User: "admin", Pass: password, Listen: addr, Location: "rtsp://" + addr + "/again"})
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	t.Cleanup(func() { cam.Close() })
	r := newRelay(t, Options{})
	p := open(t, r, cam.URL("cam"))
	if res := describe(t, r, p.URL()); res.status() != 502 {
		t.Errorf("the client was answered %q", res.start)
	}
	if n := len(cam.RequestLines()); n > 1+maxRedirects {
		t.Errorf("the camera got %d requests for one: %q", n, cam.RequestLines())
	}
}

// TestRelayRewritesSDPWithoutContentType: a camera that sends its SDP
// without Content-Type, with absolute control URLs, still works through
// the relay: the SDP is rewritten whatever its type, so ffmpeg sends
// SETUP to the relay's URL.
func TestRelayRewritesSDPWithoutContentType(t *testing.T) {
	testkit.RequireFFmpeg(t)
	cams := newCamsim(t, camsim.Camera{Name: "front"})
	tap := newTap(t, cams.RTSPAddr(), false)
	tap.toClient = func(_ net.Conn, m *message) bool {
		if len(m.body) > 0 {
			m.del("Content-Type", 0)
			m.body = bytes.ReplaceAll(m.body, []byte("a=control:trackID=0"), []byte("a=control:rtsp://"+tap.addr()+"/front/trackID=0"))
		}
		return true
	}
	r := newRelay(t, Options{})
	p := open(t, r, "rtsp://admin:"+url.PathEscape(password)+"@"+tap.addr()+"/front")
	if res := describe(t, r, p.URL()); strings.Contains(string(res.body), tap.addr()) || !strings.Contains(string(res.body), p.prefix+"/front/trackID=0") {
		t.Errorf("the client was given the SDP:\n%s", res.body)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", snapshot(p.URL())...)
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil || !bytes.HasPrefix(out, []byte{0xFF, 0xD8}) {
		t.Errorf("ffmpeg through the relay: %v, %d bytes; stderr:\n%s", err, len(out), stderr.String())
	}
}
