package actors

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/camsim"
	"camvisor/actors/config"
	"camvisor/actors/testkit"
	"camvisor/messages"
)

// alertmanager is Alertmanager's POST /api/v2/alerts on loopback, whose
// answer the test chooses per camera.
type alertmanager struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []amPost
	answer func(camera string, n int) (status int, retryAfter string)
}

type amPost struct {
	at    time.Time
	alert alertmanagerAlert
}

func newAlertmanager(t *testing.T, answer func(camera string, n int) (int, string)) *alertmanager {
	am := &alertmanager{answer: answer}
	am.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook request %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			w.WriteHeader(http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var alerts []alertmanagerAlert
		if err := json.Unmarshal(body, &alerts); err != nil || len(alerts) != 1 {
			t.Errorf("not an Alertmanager body: %v %s", err, body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		am.mu.Lock()
		am.posts = append(am.posts, amPost{at: time.Now(), alert: alerts[0]})
		n := 0
		for _, p := range am.posts {
			if p.alert.Labels["camera"] == alerts[0].Labels["camera"] {
				n++
			}
		}
		am.mu.Unlock()
		status, ra := am.answer(alerts[0].Labels["camera"], n)
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(am.Close)
	return am
}

// of returns the posts about camera, in order.
func (am *alertmanager) of(camera string) []amPost {
	am.mu.Lock()
	defer am.mu.Unlock()
	var out []amPost
	for _, p := range am.posts {
		if p.alert.Labels["camera"] == camera {
			out = append(out, p)
		}
	}
	return out
}

// TestAlertmanagerWebhook: alerts go to Alertmanager in its own format;
// a refusal (400) is not retried; a 429 is retried after its Retry-After;
// a receiver failing one alert (503 until it has another's) does not hold
// back that other alert, which is delivered while the first is retried;
// the resolution carries its end.
func TestAlertmanagerWebhook(t *testing.T) {
	var am *alertmanager
	am = newAlertmanager(t, func(camera string, n int) (int, string) {
		switch {
		case camera == "refused":
			return http.StatusBadRequest, ""
		case camera == "limited" && n == 1:
			return http.StatusTooManyRequests, "2"
		case camera == "down" && len(am.of("fine")) == 0:
			// Down until fine's alert came: with one queue for all
			// alerts, fine's would wait behind down's retries forever.
			return http.StatusServiceUnavailable, ""
		}
		return http.StatusOK, ""
	})
	// Cameras whose stream does not exist: a capture fails at once.
	cams := startCamsim(t, camsim.Camera{Name: "fine"})
	cfg := testConfig(cams, map[string][]camsim.Camera{"lab": {{Name: "down"}, {Name: "fine"}, {Name: "refused"}, {Name: "limited"}}}, nil)
	cfg.FFmpeg.CaptureTimeout = config.D(20 * time.Second)
	cfg.Alerts.CameraFailingAfter = 1
	// A query secret in the URL (a receiver's API key) is sent, never logged.
	const apiKey = "hook-s3cret-55"
	cfg.Alerts.Webhook = config.Webhook{URL: am.URL + "/?apikey=" + apiKey, Format: config.FormatAlertmanager, Timeout: config.D(2 * time.Second), MaxAttempts: 8}
	logs := &testkit.SyncBuffer{}
	h := startTreeWith(t, cams, cfg, func(env *Env) {
		env.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	defer func() {
		if l := logs.String(); strings.Contains(l, apiKey) || !strings.Contains(l, "alert webhook refused") {
			t.Errorf("the webhook's log lines show its query secret, or there are none:\n%s", l)
		}
	}()
	// The first cycle fails the cameras without a stream: each fires
	// camera_failing; down's delivery starts failing.
	testkit.Eventually(t, 30*time.Second, "down's first attempt", func() bool { return len(am.of("down")) >= 1 })
	for _, c := range []string{"refused", "limited"} {
		waitFor(h, 30*time.Second, "camera_failing of "+c, func(e *messages.AlertChanged) bool {
			return e.Subject == c && e.Rule == "camera_failing" && e.State == messages.AlertFiring
		})
	}
	// fine's stream goes away: its capture fails, its alert is delivered
	// while down's is still retried.
	if err := cams.RemoveCamera("fine"); err != nil {
		t.Fatal(err)
	}
	if d := h.capture("lab", "fine", 30*time.Second); d.Outcome == messages.OutcomeOK {
		t.Fatal("fine captured without its stream")
	}
	testkit.Eventually(t, 20*time.Second, "fine's alert delivered", func() bool { return len(am.of("fine")) == 1 })
	testkit.Eventually(t, 20*time.Second, "down's alert delivered after fine's", func() bool {
		d := am.of("down")
		return len(d) >= 2 && d[len(d)-1].at.After(am.of("fine")[0].at)
	})
	fine := am.of("fine")
	if n := len(am.of("refused")); n != 1 {
		t.Errorf("an alert refused with 400 was posted %d times", n)
	}
	testkit.Eventually(t, 10*time.Second, "limited's retry", func() bool { return len(am.of("limited")) == 2 })
	if l := am.of("limited"); l[1].at.Sub(l[0].at) < 2*time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 2", l[1].at.Sub(l[0].at))
	}

	a := fine[0].alert
	if a.Labels["alertname"] != "CamvisorCameraFailing" || a.Labels["rule"] != "camera_failing" || a.Labels["severity"] != "warning" ||
		a.Annotations["description"] == "" || a.StartsAt.IsZero() || !a.EndsAt.After(time.Now()) {
		t.Errorf("firing alert %+v", a)
	}

	// fine's stream appears: its capture succeeds, the alert resolves, and
	// Alertmanager is told it ended.
	if err := cams.AddCamera(camsim.Camera{Name: "fine"}); err != nil {
		t.Fatal(err)
	}
	if d := h.capture("lab", "fine", 20*time.Second); d.Outcome != messages.OutcomeOK {
		t.Fatalf("fine: %s %s", d.Outcome, d.Error)
	}
	testkit.Eventually(t, 10*time.Second, "fine's resolution", func() bool { return len(am.of("fine")) == 2 })
	if r := am.of("fine")[1].alert; r.EndsAt.After(time.Now()) || r.EndsAt.Before(r.StartsAt) {
		t.Errorf("resolved alert ends %s (started %s)", r.EndsAt, r.StartsAt)
	}
}
