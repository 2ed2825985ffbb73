package go2rtctest

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
)

// How the stand-in reaches the camera of each source kind, and how it
// lists a connected producer of that kind. The rows a real go2rtc was
// seen to list are kept as it lists them; the rest is documented as an
// assumption in doc.go.

// Device makes a Tapo or ONVIF device at host (as a tapo:// or onvif://
// source names it, any port) stream the camera at rtspURL: the stand-in
// dials that URL for them, since camsim speaks RTSP only.
func (s *Server) Device(host, rtspURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.devices == nil {
		s.devices = map[string]string{}
	}
	s.devices[strings.ToLower(host)] = rtspURL
}

// Configure gives the stand-in a stream as go2rtc's own config file would
// (go2rtc.yaml's streams: an operator's, Home Assistant's), without any
// API request, so a test can add one while camvisor's requests are in
// flight; with no source it takes the stream out. Viewers of a stream
// replaced or taken out keep its connection until they leave.
func (s *Server) Configure(name string, srcs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(srcs) == 0 {
		delete(s.config, name)
		delete(s.streams, name)
		return
	}
	s.config[name] = slices.Clone(srcs)
	s.streams[name] = &stream{name: name, urls: slices.Clone(srcs)}
}

// fakePorts numbers the stand-in's pretend ffmpeg connections to itself,
// as go2rtc's listing shows them ("A forwarded B").
var fakePorts atomic.Int32

// resolve says which RTSP URL the stand-in dials for source src, and what
// the listing shows of it while connected; false when it cannot dial it.
func (s *Server) resolve(src string) (target string, listed producerJSON, ok bool) {
	scheme, rest, found := strings.Cut(src, ":")
	if !found {
		return "", producerJSON{}, false
	}
	switch scheme {
	case "rtsp", "rtsps", "rtspx":
		// No TLS: camsim speaks plain RTSP, so rtsps and rtspx are dialled
		// as rtsp on the same host, port (go2rtc's default 554) and path.
		target, addr, ok := asRTSP(src)
		if !ok {
			return "", producerJSON{}, false
		}
		return target, producerJSON{URL: maskUserinfo(src), RemoteAddr: addr, FormatName: "rtsp", Protocol: "rtsp+tcp"}, true
	case "ffmpeg":
		// go2rtc runs its own ffmpeg, which reads the URL inside and
		// publishes to go2rtc's RTSP server: listed with the inner URL, the
		// command as source, and the camera after "forwarded".
		inner, _, _ := strings.Cut(rest, "#")
		target, addr, ok := asRTSP(inner)
		if !ok {
			return "", producerJSON{}, false
		}
		shown := maskUserinfo(inner)
		return target, producerJSON{URL: shown, FormatName: "rtsp", Protocol: "rtsp+tcp",
			Source:     "exec:ffmpeg -hide_banner -i " + shown + " -c copy -f rtsp rtsp://127.0.0.1:8554/" + fmt.Sprintf("%08x", fakePorts.Add(1)),
			RemoteAddr: fmt.Sprintf("127.0.0.1:%d forwarded %s", 40000+fakePorts.Add(1)%20000, addr)}, true
	case "tapo", "onvif":
		u, err := url.Parse(src)
		if err != nil {
			return "", producerJSON{}, false
		}
		s.mu.Lock()
		target := s.devices[strings.ToLower(u.Hostname())]
		s.mu.Unlock()
		rtspTarget, addr, ok := asRTSP(target)
		if !ok {
			return "", producerJSON{}, false
		}
		if scheme == "onvif" {
			// The device hands out an RTSP URL; go2rtc opens that as an rtsp
			// producer, listed as one.
			return rtspTarget, producerJSON{URL: maskUserinfo(target), RemoteAddr: addr, FormatName: "rtsp", Protocol: "rtsp+tcp"}, true
		}
		// go2rtc's tapo client speaks HTTP to port 8800 and lists no URL.
		port := u.Port()
		if port == "" {
			port = "8800"
		}
		return rtspTarget, producerJSON{RemoteAddr: net.JoinHostPort(u.Hostname(), port), FormatName: "tapo", Protocol: "http"}, true
	}
	return "", producerJSON{}, false
}

// asRTSP is src (rtsp, rtsps or rtspx) as the plain rtsp URL camsim.Dial
// takes, and the host:port dialled.
func asRTSP(src string) (target, addr string, ok bool) {
	u, err := url.Parse(src)
	if err != nil || u.Hostname() == "" {
		return "", "", false
	}
	switch u.Scheme {
	case "rtsp", "rtsps", "rtspx":
	default:
		return "", "", false
	}
	u.Scheme = "rtsp"
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "554")
	}
	u.Fragment = ""
	return u.String(), u.Host, true
}
