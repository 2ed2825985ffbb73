package main

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"camvisor/actors/go2rtc/go2rtctest"
)

// TestCheckWarnsOfMissingDeclaredStream: camvisor check lists go2rtc when
// a camera declares go2rtc_streams and warns of each declared stream
// go2rtc does not have (a warning: go2rtc may start after camvisor); it
// asks go2rtc nothing when no camera declares one.
func TestCheckWarnsOfMissingDeclaredStream(t *testing.T) {
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	req, _ := http.NewRequest(http.MethodPut, g2.URL()+"/api/streams?"+url.Values{"name": {"frontdoor"}, "src": {"rtsp://127.0.0.1:554/x"}}.Encode(), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the operator's stream: %v %v", err, resp)
	}
	config := func(go2rtcURL, declared string) string {
		return writeFile(t, "camvisor.yaml", "go2rtc:\n  url: "+go2rtcURL+"\nsubnets:\n  - name: lab\n    cameras:\n"+
			"      - id: front\n        url: rtsp://u:pw@127.0.0.1/x\n        max_connections: 2\n"+declared)
	}

	code, out := run("check", "--config", config(g2.URL(), "        go2rtc_streams: [frontdoor, backdoor]\n"))
	if code != 0 || !strings.Contains(out, `warning: camera front: go2rtc_streams names "backdoor", which go2rtc does not have`) ||
		strings.Contains(out, `"frontdoor"`) {
		t.Errorf("check with one declared stream missing: exit %d, %q", code, out)
	}

	before := len(g2.Requests())
	if code, out := run("check", "--config", config(g2.URL(), "")); code != 0 || strings.Contains(out, "warning") || len(g2.Requests()) != before {
		t.Errorf("check without declared streams: exit %d, %q, %d requests to go2rtc", code, out, len(g2.Requests())-before)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	if code, out := run("check", "--config", config(down, "        go2rtc_streams: [frontdoor]\n")); code != 0 || !strings.Contains(out, "could not be listed") {
		t.Errorf("check with go2rtc down: exit %d, %q", code, out)
	}
}
