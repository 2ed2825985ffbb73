package camsim

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

func TestParseCameraSpec(t *testing.T) {
	for spec, want := range map[string]Camera{
		"cam1":                          {Name: "cam1"},
		"tapo,max=2,mode=static,fps=10": {Name: "tapo", MaxConnections: 2, Mode: ModeStatic, FPS: 10},
		"x,hang,slow=2s,drop=500ms,refuse": {Name: "x", Hang: true, Slow: Duration(2 * time.Second),
			Drop: Duration(500 * time.Millisecond), Refuse: true},
		"y,hang=false,refuse=true": {Name: "y", Refuse: true},
		"z,codec=h264,gop=1s":      {Name: "z", Codec: CodecH264, GOP: Duration(time.Second)},
		"c,mode=static,clock":      {Name: "c", Mode: ModeStatic, Clock: true},
	} {
		got, err := ParseCameraSpec(spec)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for spec, msg := range map[string]string{
		"":                     "camera name",
		"a b":                  "only letters",
		"cam,max=x":            "option max",
		"cam,max=-1":           "negative",
		"cam,slow=2":           "option slow",
		"cam,mode=fancy":       "mode",
		"cam,fps=0x":           "option fps",
		"cam,fps=100":          "fps 100",
		"cam,wobble":           "unknown option",
		"cam,hang=maybe":       "option hang",
		"cam,drop=-1s":         "negative",
		"cam,refuse=nope":      "option refuse",
		"cam,codec=h265":       "codec",
		"cam,gop=soon":         "option gop",
		"cam,gop=30s":          "gop 30s is outside",
		"cam,clock=often":      "option clock",
		"cam,codec=h264,clock": "clock needs codec mjpeg",
	} {
		_, err := ParseCameraSpec(spec)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), spec) {
			t.Errorf("%q: error %v, want one naming the spec and %q", spec, err, msg)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	var c Camera
	if err := json.Unmarshal([]byte(`{"name":"a","slow":"250ms","drop":1.5}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.Slow != Duration(250*time.Millisecond) || c.Drop != Duration(1500*time.Millisecond) {
		t.Errorf("%+v", c)
	}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"slow":"250ms"`) || !strings.Contains(string(b), `"drop":"1.5s"`) {
		t.Errorf("%s", b)
	}
	if err := json.Unmarshal([]byte(`{"slow":"soon"}`), &c); err == nil {
		t.Error("accepted a bad duration")
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		msg  string
	}{
		{Options{RTSPAddr: "0.0.0.0:0"}, "not loopback"},
		{Options{HTTPAddr: ":0"}, "not loopback"},
		{Options{Width: 100, Height: 240}, "multiple of 16"},
		{Options{Width: 4096, Height: 240}, "multiple of 16 from 32 to 2032"},
		{Options{FPS: 61}, "fps"},
		{Options{Pass: "x"}, "without a user"},
		{Options{Codec: "vp8"}, "codec"},
		{Options{FFmpeg: "/nonexistent/ffmpeg", Cameras: []Camera{{Name: "h", Codec: CodecH264}}}, "camera h: encode h264 loop"},
		{Options{Cameras: []Camera{{Name: "a"}, {Name: "a"}}}, "already exists"},
	} {
		s, err := New(tc.opts)
		if err == nil {
			s.Close()
			t.Errorf("%+v: accepted", tc.opts)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.msg)
		}
	}
	s, err := New(Options{RTSPAddr: "0.0.0.0:0", AllowRemote: true})
	if err != nil {
		t.Fatalf("AllowRemote: %v", err)
	}
	s.Close()
}
