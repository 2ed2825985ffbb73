package web

import (
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/go2rtc/go2rtctest"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// Connections go2rtc holds for streams camvisor did not create (issue 21):
// seen when they matter — right before each frame asked of go2rtc and
// each live view —, for every source kind a camera is read with, and for
// the streams an operator declares.

// operatorStream gives go2rtc a stream of the operator's, as its
// go2rtc.yaml would (no API request: camvisor's may be in flight).
func operatorStream(g2 *go2rtctest.Server, name, src string) { g2.Configure(name, src) }

// camerasNow is GET /api/cameras.
type camerasNow struct {
	Cameras []struct {
		ID            string `json:"id"`
		SlotsExternal int    `json:"slots_external"`
		SlotsLease    int    `json:"slots_lease"`
		Live          *struct {
			PlayerURL string `json:"player_url"`
		} `json:"live"`
	} `json:"cameras"`
	UnmatchedSources *[]struct {
		Stream  string   `json:"stream"`
		URL     string   `json:"url"`
		Open    bool     `json:"open"`
		Cameras []string `json:"cameras"`
		Reason  string   `json:"reason"`
	} `json:"unmatched_sources"`
}

func (st *stack) camerasNow() camerasNow {
	st.t.Helper()
	var c camerasNow
	if code := st.get("/api/cameras", &c); code != http.StatusOK {
		st.t.Fatalf("GET /api/cameras: %d", code)
	}
	return c
}

// neverOverBudget fails the test when a camera ever counted more slots
// than its max_connections.
func neverOverBudget(t *testing.T, st *stack) {
	t.Helper()
	for _, s := range testkit.All(st.facts, testkit.Start, func(s *messages.SlotsChanged) bool {
		return s.FFmpeg+s.Go2RTC+s.Leases+s.External > s.MaxConnections
	}) {
		t.Errorf("slots over the budget: %+v", s)
	}
}

// noCamvisorStream fails the test when camvisor registered a stream of its
// own in go2rtc.
func noCamvisorStream(t *testing.T, g2 *go2rtctest.Server) {
	t.Helper()
	for _, r := range g2.Requests() {
		if strings.Contains(r, "camvisor_") {
			t.Errorf("camvisor registered a stream of its own: %s", r)
		}
	}
}

// TestExternalViewerMidCycle: a camera that takes one connection
// (max_connections 1, and camsim refuses a second), patrolled through
// go2rtc every 3 s, which the operator's go2rtc also has as a stream of
// its own (frontdoor, matched on its URL). Ten times a viewer opens that
// stream at a random moment inside a cycle: the camera never sees two
// connections and refuses none, and the patrol's frames ride the viewer's
// connection (via external) while it watches. Between viewers the frames
// go through frontdoor too, not through a camvisor_ stream: a viewer who
// arrives while a frame is being taken shares its connection. The camera
// answers slowly (300 ms a request: a frame holds its connection for
// about 1.2 s of each 3 s cycle), so most random moments fall inside a
// frame: a camvisor_ stream would then have opened a second connection.
func TestExternalViewerMidCycle(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", MaxConnections: 1, Mode: camsim.ModeStatic,
		Slow: camsim.Duration(300 * time.Millisecond)})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	operatorStream(g2, "frontdoor", cams.URL("front"))
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.RequestTimeout = config.D(2500 * time.Millisecond)
		cfg.Subnets[0].Interval = config.D(3 * time.Second)
		cfg.Subnets[0].Via = config.ViaGo2RTC
		cfg.Subnets[0].Cameras[0].MaxConnections = 1
	})
	patrol := func(d *messages.CaptureDone) bool { return d.Camera == "front" && d.Cycle > 0 }
	testkit.WaitFor(t, st.facts, testkit.Start, 10*time.Second, "a first patrol frame", patrol)

	for round := range 10 {
		// A random moment inside a cycle (this one's when it is still to
		// come, else the next one's): the scenario, not a wait.
		cycles := testkit.All(st.facts, testkit.Start, func(c *messages.CycleStarted) bool { return true })
		moment := cycles[len(cycles)-1].StartedAt.Add(rand.N(3 * time.Second))
		for time.Until(moment) < 0 {
			moment = moment.Add(3 * time.Second)
		}
		time.Sleep(time.Until(moment))
		opened := st.facts.Mark()
		viewer := g2.Watch(t, "frontdoor")
		ride := testkit.WaitFor(t, st.facts, opened, 10*time.Second, "a patrol frame riding the viewer's connection", func(d *messages.CaptureDone) bool {
			return patrol(d) && d.Via == "external"
		})
		if ride.Outcome != messages.OutcomeOK {
			t.Errorf("round %d: a frame through the operator's stream: %s %s", round, ride.Outcome, ride.Error)
		}
		viewer.Close()
		testkit.Eventually(t, 5*time.Second, "the viewer's connection closed", func() bool { return cams.Stats("front").Open == 0 })
	}
	for _, d := range testkit.All(st.facts, testkit.Start, patrol) {
		if d.Outcome != messages.OutcomeOK || (d.Via != "external" && d.Via != "go2rtc") {
			t.Errorf("patrol capture %s via %s: %s", d.Outcome, d.Via, d.Error)
		}
	}
	if s := cams.Stats("front"); s.MaxOpen != 1 || s.Refused != 0 {
		t.Errorf("camsim: max_open %d, refused %d; want 1 and 0", s.MaxOpen, s.Refused)
	}
	neverOverBudget(t, st)
	noCamvisorStream(t, g2)
}

// TestExternalSourceKinds: one operator stream per source kind go2rtc
// reads a camera with — rtsp, rtsps, rtspx, ffmpeg:<url>#…, onvif://,
// tapo:// — each watched in turn: its connection counts against the
// camera (slots_external 1) and the patrol rides it (via external). Then
// sources camvisor cannot attribute are listed as unmatched_sources.
func TestExternalSourceKinds(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", MaxConnections: 2, Mode: camsim.ModeStatic})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	g2.Device("127.0.0.1", cams.URL("front")) // the Tapo / ONVIF device at the camera's host
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.RequestTimeout = config.D(2 * time.Second)
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Subnets[0].Via = config.ViaGo2RTC
		cfg.Subnets[0].Cameras[0].MaxConnections = 2
	})
	camURL := cams.URL("front") // rtsp://admin:…@127.0.0.1:PORT/front
	_, rest, _ := strings.Cut(camURL, "://")
	for _, src := range []string{
		camURL,
		"rtsps://" + rest,
		"rtspx://" + rest,
		"ffmpeg:" + camURL + "#video=copy",
		"onvif://admin:" + testkit.CamsimPassword + "@127.0.0.1:2020",
		"tapo://admin:" + testkit.CamsimPassword + "@127.0.0.1",
	} {
		kind, _, _ := strings.Cut(src, ":")
		name := "op_" + kind
		operatorStream(g2, name, src)
		viewer := g2.Watch(t, name)
		watched := st.facts.Mark()
		testkit.Eventually(t, 10*time.Second, kind+": its connection counted in slots_external", func() bool {
			c := st.camerasNow()
			return len(c.Cameras) == 1 && c.Cameras[0].SlotsExternal == 1
		})
		testkit.WaitFor(t, st.facts, watched, 10*time.Second, kind+": a patrol frame riding it", func(d *messages.CaptureDone) bool {
			return d.Camera == "front" && d.Cycle > 0 && d.Via == "external" && d.Outcome == messages.OutcomeOK
		})
		if u := st.camerasNow().UnmatchedSources; u == nil || len(*u) != 0 {
			t.Errorf("%s: unmatched_sources %v, want []", kind, u)
		}
		viewer.Close()
		g2.Configure(name)
		testkit.Eventually(t, 10*time.Second, kind+": no external connection once it is gone", func() bool {
			return st.camerasNow().Cameras[0].SlotsExternal == 0 && cams.Stats("front").Open == 0
		})
	}
	if s := cams.Stats("front"); s.Refused != 0 || s.MaxOpen > 2 {
		t.Errorf("camsim: max_open %d, refused %d", s.MaxOpen, s.Refused)
	}

	// What could read front but cannot be told: listed, counted nowhere.
	u, _ := url.Parse(camURL)
	operatorStream(g2, "front_other", "rtsp://"+u.Host+"/front_hd")
	operatorStream(g2, "ha_camera", "hass:camera.front")
	operatorStream(g2, "elsewhere", "rtsp://10.255.0.1/cam") // another device: not listed
	var unmatched camerasNow
	testkit.Eventually(t, 10*time.Second, "the unmatched sources listed", func() bool {
		unmatched = st.camerasNow()
		return unmatched.UnmatchedSources != nil && len(*unmatched.UnmatchedSources) == 2
	})
	for _, s := range *unmatched.UnmatchedSources {
		switch s.Stream {
		case "front_other":
			if !slices.Equal(s.Cameras, []string{"front"}) || !strings.Contains(s.Reason, "another path") || s.Open {
				t.Errorf("unmatched %+v", s)
			}
		case "ha_camera":
			if len(s.Cameras) != 0 || !strings.Contains(s.Reason, "hass") {
				t.Errorf("unmatched %+v", s)
			}
		default:
			t.Errorf("listed unmatched: %+v", s)
		}
		if strings.Contains(s.URL, testkit.CamsimPassword) {
			t.Errorf("unmatched source shows the password: %+v", s)
		}
	}
	neverOverBudget(t, st)
}

// TestDeclaredStreamServesLiveView: a camera declares the operator's
// stream (go2rtc_streams: [frontdoor_hd, frontdoor]; go2rtc has no
// frontdoor_hd, which the server logs at start), which a viewer of the
// operator's is watching. A live view of the camera plays frontdoor (its player URL),
// registers no camvisor_ stream and needs no slot of its own although the
// camera has one (max_connections 1): the camera sees one connection
// throughout, our viewer and the operator's sharing it, and the patrol's
// frames ride it. When the live view ends, the operator's connection
// counts as external again.
func TestDeclaredStreamServesLiveView(t *testing.T) {
	cams := testkit.Camsim(t, camsim.Camera{Name: "front", MaxConnections: 2, Mode: camsim.ModeStatic})
	g2 := go2rtctest.New(t, go2rtctest.Options{})
	operatorStream(g2, "frontdoor", cams.URL("front"))
	operators := g2.Watch(t, "frontdoor")
	testkit.Eventually(t, 10*time.Second, "the operator's viewer holding the camera", func() bool { return cams.Stats("front").Open == 1 })
	st := startStack(t, cams, func(cfg *config.Config) {
		cfg.Go2RTC.URL = g2.URL()
		cfg.Go2RTC.RequestTimeout = config.D(2 * time.Second)
		cfg.Subnets[0].Interval = config.D(time.Second)
		cfg.Subnets[0].Via = config.ViaGo2RTC
		cfg.Subnets[0].Cameras[0].MaxConnections = 1
		cfg.Subnets[0].Cameras[0].Go2RTCStreams = []string{"frontdoor_hd", "frontdoor"} // go2rtc has no frontdoor_hd
	})
	testkit.Eventually(t, 10*time.Second, "the missing declared stream logged at start", func() bool {
		return strings.Contains(st.logs(), `go2rtc_streams names \"frontdoor_hd\", which go2rtc does not have`)
	})
	testkit.Eventually(t, 10*time.Second, "the operator's connection counted", func() bool {
		return st.camerasNow().Cameras[0].SlotsExternal == 1
	})

	resp, body := st.do(http.MethodPost, "/api/cameras/front/live", nil, true)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `/stream.html?src=frontdoor"`) {
		t.Fatalf("POST live: %d %s; want the declared stream's player", resp.StatusCode, body)
	}
	ours := g2.Watch(t, "frontdoor") // the dashboard's player
	granted := st.facts.Mark()
	testkit.WaitFor(t, st.facts, granted, 10*time.Second, "a patrol frame over the live view", func(d *messages.CaptureDone) bool {
		return d.Camera == "front" && d.Cycle > 0 && d.Via == "lease" && d.Outcome == messages.OutcomeOK
	})
	c := st.camerasNow()
	if cam := c.Cameras[0]; cam.SlotsLease != 1 || cam.SlotsExternal != 0 || cam.Live == nil || !strings.HasSuffix(cam.Live.PlayerURL, "src=frontdoor") {
		t.Errorf("/api/cameras while live: %+v; want the live view's slot only, playing frontdoor", cam)
	}
	if s := cams.Stats("front"); s.MaxOpen != 1 || s.Refused != 0 {
		t.Errorf("camsim: max_open %d, refused %d; want one connection shared", s.MaxOpen, s.Refused)
	}
	noCamvisorStream(t, g2)

	if resp, body := st.do(http.MethodDelete, "/api/cameras/front/live", nil, true); resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE live: %d %s", resp.StatusCode, body)
	}
	ours.Close()
	testkit.Eventually(t, 10*time.Second, "the operator's connection counted again once the live view ended", func() bool {
		cam := st.camerasNow().Cameras[0]
		return cam.SlotsLease == 0 && cam.SlotsExternal == 1
	})
	operators.Close()
	testkit.Eventually(t, 10*time.Second, "nothing counted once the operator left", func() bool {
		return st.camerasNow().Cameras[0].SlotsExternal == 0
	})
	neverOverBudget(t, st)
	noCamvisorStream(t, g2)
}
