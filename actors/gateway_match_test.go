package actors

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/config"
	"camvisor/actors/go2rtc"
	"camvisor/messages"
)

// TestSourcesMatchedByKind: each source kind go2rtc lists, idle and
// connected, as the real server lists it (actors/go2rtc/README.md), is
// attributed to the camera it reads; what could be one of ours but cannot
// be told is listed unmatched with the cameras it may be; other devices
// and camvisor's own streams are left alone.
func TestSourcesMatchedByKind(t *testing.T) {
	cfg := config.Defaults()
	cfg.Go2RTC.URL = "http://127.0.0.1:1984"
	cfg.Subnets = []config.Subnet{{Name: "lab", Cameras: []config.Camera{
		{ID: "front", URL: "rtsp://admin:pw@10.0.0.5/stream1", DetectURL: "rtsp://admin:pw@10.0.0.5/stream2"},
		{ID: "door", URL: "rtsps://10.0.0.6/live"}, // ffmpeg dials rtsps on 322
		{ID: "nvr1", URL: "rtsp://10.0.0.9:554/ch1"},
		{ID: "nvr2", URL: "rtsp://10.0.0.9/ch2"},
		{ID: "yard", URL: "rtsp://10.0.0.7:8554/yard", Go2RTCStreams: []string{"yard_sub", "yard_hd"}},
	}}}
	idle := func(u string) go2rtc.Stream { return go2rtc.Stream{Producers: []go2rtc.Producer{{URL: u}}} }
	list := map[string]go2rtc.Stream{
		"ha_front": idle("rtsp://***@10.0.0.5/stream1"),
		// ffmpeg:, connected: the URL inside it, and the camera after "forwarded".
		"front_ff": {Producers: []go2rtc.Producer{{URL: "rtsp://***@10.0.0.5:554/stream2", FormatName: "rtsp",
			RemoteAddr: "127.0.0.1:60566 forwarded 10.0.0.5:554"}}},
		"front_ff_idle": idle("ffmpeg:rtsp://***@10.0.0.5/stream1#video=copy"),
		// tapo, connected: no URL, its format and the camera's address.
		"tapo_front":     {Producers: []go2rtc.Producer{{FormatName: "tapo", RemoteAddr: "10.0.0.5:8800"}}},
		"onvif_front":    idle("onvif://***@10.0.0.5:2020"),
		"rtspx_front":    idle("rtspx://10.0.0.5:554/stream1"),
		"door_x":         idle("rtspx://10.0.0.6:322/live"),
		"door_554":       idle("rtsps://10.0.0.6/live"), // go2rtc dials 554: not ffmpeg's 322
		"nvr_tapo":       idle("tapo://***@10.0.0.9"),
		"nvr_ch3":        {Producers: []go2rtc.Producer{{URL: "rtsp://10.0.0.9:554/ch3", RemoteAddr: "10.0.0.9:554", FormatName: "rtsp"}}},
		"yard_hd":        {Producers: []go2rtc.Producer{{URL: "exec:ffmpeg -i rtsp://***@10.0.0.7:8554/yard -f rtsp {output}", RemoteAddr: "10.0.0.7:8554"}}},
		"yard_sub":       idle("rtsp://***@10.0.0.7:8554/yard_sub"),
		"hass_x":         idle("hass:camera.x"),
		"elsewhere":      idle("rtsp://10.0.0.99/x"),
		"mixed":          idle("ffmpeg:front_ff#audio=opus"),
		"camvisor_front": {Producers: []go2rtc.Producer{{URL: "rtsp://***@10.0.0.5/stream2", RemoteAddr: "10.0.0.5:554"}}},
	}
	at := time.Now()
	r := newMatcher(cfg).read(list, at)

	for cam, want := range map[string]messages.ExternalUse{
		"front": {Open: []string{"front_ff", "tapo_front"}, At: at},
		"door":  {At: at},
		"nvr1":  {At: at},
		"yard":  {Open: []string{"yard_hd"}, Declared: []string{"yard_sub", "yard_hd"}, At: at},
	} {
		if got := r.use(cam); !reflect.DeepEqual(got, want) {
			t.Errorf("use of %s: %+v, want %+v", cam, got, want)
		}
	}
	reads := func(cam string) []string {
		var out []string
		for _, s := range r.reads[cam] {
			out = append(out, s.name)
		}
		slices.Sort(out)
		return out
	}
	if got, want := reads("front"), []string{"front_ff", "front_ff_idle", "ha_front", "onvif_front", "rtspx_front", "tapo_front"}; !slices.Equal(got, want) {
		t.Errorf("streams read as front's: %v, want %v", got, want)
	}
	if got := reads("door"); !slices.Equal(got, []string{"door_x"}) {
		t.Errorf("streams read as door's: %v, want door_x only", got)
	}
	if got := r.source("front"); got != "front_ff" {
		t.Errorf("front's patrol source %q, want front_ff (its patrol URL)", got)
	}
	if got := r.source("door"); got != "door_x" {
		t.Errorf("door's patrol source %q, want door_x", got)
	}
	if got := r.source("nvr1"); got != "" {
		t.Errorf("nvr1's patrol source %q, want none (camvisor_nvr1)", got)
	}

	unmatched := map[string]messages.UnmatchedSource{}
	for _, u := range r.unmatched {
		unmatched[u.Stream] = u
	}
	for stream, want := range map[string]struct {
		cams   []string
		reason string
		open   bool
	}{
		"door_554": {[]string{"door"}, "another port", false},
		"nvr_tapo": {[]string{"nvr1", "nvr2"}, "a device at 10.0.0.9", false},
		"nvr_ch3":  {[]string{"nvr1", "nvr2"}, "another path", true},
		"hass_x":   {nil, `"hass"`, false},
	} {
		u, ok := unmatched[stream]
		if !ok {
			t.Errorf("%s not listed unmatched: %+v", stream, r.unmatched)
			continue
		}
		if !slices.Equal(u.Cameras, want.cams) || !strings.Contains(u.Reason, want.reason) || u.Open != want.open || strings.Contains(u.URL, "pw") {
			t.Errorf("unmatched %s: %+v, want cameras %v, a reason with %q, open %v", stream, u, want.cams, want.reason, want.open)
		}
	}
	if len(unmatched) != 4 {
		t.Errorf("unmatched: %+v, want door_554, nvr_tapo, nvr_ch3 and hass_x only", r.unmatched)
	}
	if got := missingDeclared(cfg, map[string]go2rtc.Stream{"yard_hd": {}}); len(got) != 1 || !strings.Contains(got[0], `"yard_sub"`) {
		t.Errorf("missing declared streams: %q", got)
	}
}
