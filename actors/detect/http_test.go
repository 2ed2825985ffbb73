package detect

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"camvisor/actors/detect/detecttest"
)

// newHTTP is NewHTTP failing the test on error.
func newHTTP(t *testing.T, opts HTTPOptions) *HTTP {
	t.Helper()
	d, err := NewHTTP(opts)
	if err != nil {
		t.Fatalf("NewHTTP(%+v): %v", opts, err)
	}
	t.Cleanup(d.Close)
	return d
}

// testFrame is a small valid snapshot.
func testFrame(t testing.TB) []byte {
	return greyJPEG(t, 64, 48, 90, patch{image.Rect(8, 8, 24, 40), 200})
}

// detectErr runs one Detect that must fail with want, and returns the
// error's text for further checks.
func detectErr(t *testing.T, d *HTTP, want error) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dets, err := d.Detect(ctx, testFrame(t))
	if !errors.Is(err, want) {
		t.Fatalf("got %+v, %v; want an error wrapping %q", dets, err, want)
	}
	t.Logf("error: %v", err)
	return err.Error()
}

func TestNewHTTPRefusesBadOptions(t *testing.T) {
	cases := []struct {
		opts  HTTPOptions
		field string
		value string
	}{
		{HTTPOptions{URL: ""}, "detector.url", `""`},
		{HTTPOptions{URL: "ftp://10.0.0.5/v1/vision/detection"}, "detector.url", "ftp://10.0.0.5"},
		{HTTPOptions{URL: "http://"}, "detector.url", `"http://"`},
		{HTTPOptions{URL: "http:///v1/vision/detection"}, "detector.url", "http:///v1"},
		{HTTPOptions{URL: "127.0.0.1:5000/v1/vision/detection"}, "detector.url", "127.0.0.1:5000"},
		{HTTPOptions{URL: "http://user:hunter2@:80/x"}, "detector.url", "user:***@"},
		{HTTPOptions{URL: "http://127.0.0.1:5000/x", Timeout: -time.Second}, "detector.timeout", "-1s"},
		{HTTPOptions{URL: "http://127.0.0.1:5000/x", MaxBody: -1}, "detector.max_body", "-1"},
	}
	for _, c := range cases {
		_, err := NewHTTP(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.field) || !strings.Contains(err.Error(), c.value) {
			t.Errorf("NewHTTP(%+v): got %v, want an error naming %s and %s", c.opts, err, c.field, c.value)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewHTTP(%+v): error %q shows the password", c.opts, err)
		}
	}
	d := newHTTP(t, HTTPOptions{URL: "https://detector.lan/v1/vision/detection"})
	if d.timeout != DefaultHTTPTimeout || d.maxBody != DefaultHTTPMaxBody {
		t.Errorf("defaults: timeout %v, max body %d", d.timeout, d.maxBody)
	}
	if tr, ok := d.client.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("transport %T must be an *http.Transport without a proxy", d.client.Transport)
	}
}

func TestHTTPGoodAnswer(t *testing.T) {
	s := detecttest.New(t)
	d := newHTTP(t, HTTPOptions{URL: s.URL()})

	dets, err := d.Detect(context.Background(), testFrame(t))
	if err != nil || len(dets) != 0 || dets == nil {
		t.Fatalf("no predictions: got %#v, %v; want an empty list", dets, err)
	}

	s.Answer(detecttest.Answer{Predictions: []detecttest.Prediction{
		{Label: "person", Confidence: 0.91, XMin: 10, YMin: 20, XMax: 100, YMax: 200},
		{Label: "car", Confidence: 0.4, XMin: 0, YMin: 0, XMax: 64, YMax: 48},
		{Label: "dog", Confidence: 0, XMin: 5, YMin: 5, XMax: 5, YMax: 5},
	}})
	dets, err = d.Detect(context.Background(), testFrame(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []Detection{
		{Label: "person", Score: 0.91, Box: image.Rect(10, 20, 100, 200)},
		{Label: "car", Score: 0.4, Box: image.Rect(0, 0, 64, 48)},
		{Label: "dog", Score: 0, Box: image.Rect(5, 5, 5, 5)},
	}
	if fmt.Sprint(dets) != fmt.Sprint(want) {
		t.Errorf("got %+v, want %+v", dets, want)
	}
	if n := s.Requests(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
}

func TestHTTPFractionalCoordinatesWiden(t *testing.T) {
	s := detecttest.New(t)
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	s.Answer(detecttest.Answer{Body: `{"success":true,"predictions":[{"label":"cat","confidence":1,"x_min":10.6,"y_min":2.2,"x_max":30.1,"y_max":40.9,"extra":"ignored"}],"inferenceMs":3}`})
	dets, err := d.Detect(context.Background(), testFrame(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := image.Rect(10, 2, 31, 41); len(dets) != 1 || dets[0].Box != want {
		t.Errorf("got %+v, want one box %v", dets, want)
	}
}

func TestHTTPFaults(t *testing.T) {
	long := strings.Repeat("x", 150) + "MIDDLE" + strings.Repeat("y", 1000)
	pred := func(fields string) string {
		return `{"success":true,"predictions":[{"label":"person","confidence":0.9,"x_min":1,"y_min":2,"x_max":3,"y_max":4},{` + fields + `}]}`
	}
	cases := []struct {
		name   string
		answer detecttest.Answer
		want   error
		says   []string // all must appear in the error
		hides  []string // none may appear
	}{
		{"status 500", detecttest.Answer{Status: 500, Body: "model exploded"}, ErrStatus, []string{"500 Internal Server Error", `"model exploded"`}, nil},
		{"status 404 default body", detecttest.Answer{Status: 404}, ErrStatus, []string{"404 Not Found", "simulated status 404"}, nil},
		{"status with long body", detecttest.Answer{Status: 503, Body: long}, ErrStatus, []string{"503", "xxxxMIDDLEyyyy", "first 200 of 1156 bytes"}, []string{strings.Repeat("y", 60)}},
		{"not json", detecttest.Answer{Body: "not json"}, ErrBadAnswer, []string{"not JSON", `"not json"`}, nil},
		{"html page", detecttest.Answer{Body: "<html><body>Login</body></html>"}, ErrBadAnswer, []string{"not JSON", "<html><body>Login"}, nil},
		{"json array", detecttest.Answer{Body: `[1,2]`}, ErrBadAnswer, []string{"JSON array", "want an object"}, nil},
		{"success false", detecttest.Answer{SuccessFalse: true}, ErrBadAnswer, []string{"success is false", detecttest.FailureMessage}, nil},
		{"success false with message", detecttest.Answer{Body: `{"success":false,"message":"queue full"}`}, ErrBadAnswer, []string{"success is false", "queue full"}, nil},
		{"missing predictions", detecttest.Answer{MissingPredictions: true}, ErrBadAnswer, []string{`"predictions" is missing`}, nil},
		{"null predictions", detecttest.Answer{Body: `{"success":true,"predictions":null}`}, ErrBadAnswer, []string{`"predictions" is missing or null`}, nil},
		{"missing success", detecttest.Answer{Body: `{"predictions":[]}`}, ErrBadAnswer, []string{`"success" is missing`}, nil},
		{"success as text", detecttest.Answer{Body: `{"success":"yes","predictions":[]}`}, ErrBadAnswer, []string{`"success"`, "string", "bool"}, nil},
		{"predictions as object", detecttest.Answer{Body: `{"success":true,"predictions":{}}`}, ErrBadAnswer, []string{`"predictions"`, "object"}, nil},
		{"missing label", detecttest.Answer{Body: pred(`"confidence":0.5,"x_min":1,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"predictions[1]", `"label" is missing`}, nil},
		{"empty label", detecttest.Answer{Body: pred(`"label":"","confidence":0.5,"x_min":1,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"predictions[1]", `label "" is empty`}, nil},
		{"missing confidence", detecttest.Answer{Body: pred(`"label":"car","x_min":1,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"predictions[1]", `"car"`, `"confidence" is missing`}, nil},
		{"confidence as text", detecttest.Answer{Body: pred(`"label":"car","confidence":"0.5","x_min":1,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"predictions.confidence", "string"}, nil},
		{"confidence above 1", detecttest.Answer{Predictions: []detecttest.Prediction{{Label: "car", Confidence: 1.5, XMax: 3, YMax: 4}}}, ErrBadAnswer, []string{"predictions[0]", "confidence 1.5 is outside 0..1"}, nil},
		{"confidence negative", detecttest.Answer{Body: pred(`"label":"car","confidence":-0.1,"x_min":1,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"confidence -0.1"}, nil},
		{"missing x_min", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{`"x_min" is missing`}, nil},
		{"missing y_max", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"x_min":1,"y_min":2,"x_max":3`)}, ErrBadAnswer, []string{`"y_max" is missing`}, nil},
		{"null y_min", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"x_min":1,"y_min":null,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{`"y_min" is missing or null`}, nil},
		{"NaN coordinate", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"x_min":NaN,"y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"not JSON"}, nil},
		{"NaN as text", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"x_min":"NaN","y_min":2,"x_max":3,"y_max":4`)}, ErrBadAnswer, []string{"predictions.x_min", "string"}, nil},
		{"negative coordinate", detecttest.Answer{Predictions: []detecttest.Prediction{{Label: "car", Confidence: 0.5, XMin: -3, YMin: 2, XMax: 3, YMax: 4}}}, ErrBadAnswer, []string{"x_min -3 is not a pixel coordinate"}, nil},
		{"huge coordinate", detecttest.Answer{Body: pred(`"label":"car","confidence":0.5,"x_min":1,"y_min":2,"x_max":1e300,"y_max":4`)}, ErrBadAnswer, []string{"x_max 1e+300 is not a pixel coordinate"}, nil},
		{"inverted x", detecttest.Answer{Predictions: []detecttest.Prediction{{Label: "car", Confidence: 0.5, XMin: 30, YMin: 2, XMax: 10, YMax: 4}}}, ErrBadAnswer, []string{"x_max 10 is left of x_min 30"}, nil},
		{"inverted y", detecttest.Answer{Predictions: []detecttest.Prediction{{Label: "car", Confidence: 0.5, XMin: 1, YMin: 40, XMax: 10, YMax: 4}}}, ErrBadAnswer, []string{"y_max 4 is above y_min 40"}, nil},
		{"empty body", detecttest.Answer{Body: " "}, ErrBadAnswer, []string{"not JSON"}, nil},
	}
	s := detecttest.New(t)
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.Answer(c.answer)
			msg := detectErr(t, d, c.want)
			if !strings.Contains(msg, s.URL()) {
				t.Errorf("error %q does not name the detector's URL", msg)
			}
			for _, w := range c.says {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, h := range c.hides {
				if strings.Contains(msg, h) {
					t.Errorf("error %q quotes too much (%q)", msg, h)
				}
			}
		})
	}
}

func TestHTTPHangTimesOut(t *testing.T) {
	s := detecttest.New(t)
	s.Answer(detecttest.Answer{Hang: true})
	d := newHTTP(t, HTTPOptions{URL: s.URL(), Timeout: 300 * time.Millisecond})
	start := time.Now()
	msg := detectErr(t, d, ErrTimeout)
	if el := time.Since(start); el > time.Second {
		t.Errorf("timed out after %v, want about 300ms", el)
	}
	if !strings.Contains(msg, "detector.timeout 300ms") {
		t.Errorf("error %q does not say which limit passed", msg)
	}
}

func TestHTTPDelay(t *testing.T) {
	s := detecttest.New(t)
	s.Answer(detecttest.Answer{Delay: 100 * time.Millisecond, Predictions: []detecttest.Prediction{{Label: "person", Confidence: 0.7, XMax: 1, YMax: 1}}})
	d := newHTTP(t, HTTPOptions{URL: s.URL(), Timeout: 3 * time.Second})
	dets, err := d.Detect(context.Background(), testFrame(t))
	if err != nil || len(dets) != 1 {
		t.Fatalf("a 100ms delay within a 3s timeout: got %+v, %v", dets, err)
	}
	s.Answer(detecttest.Answer{Delay: 5 * time.Second})
	d = newHTTP(t, HTTPOptions{URL: s.URL(), Timeout: 200 * time.Millisecond})
	detectErr(t, d, ErrTimeout)
}

func TestHTTPCallerContext(t *testing.T) {
	s := detecttest.New(t)
	s.Answer(detecttest.Answer{Hang: true})
	d := newHTTP(t, HTTPOptions{URL: s.URL(), Timeout: 10 * time.Second})

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := d.Detect(ctx, testFrame(t))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "caller's deadline") {
		t.Errorf("caller's deadline: got %v, want ErrTimeout and DeadlineExceeded", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	stop := time.AfterFunc(200*time.Millisecond, cancel)
	defer stop.Stop()
	_, err = d.Detect(ctx, testFrame(t))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnreachable) {
		t.Errorf("caller cancelled: got %v, want context.Canceled only", err)
	}
}

func TestHTTPHugeAnswerIsTooLarge(t *testing.T) {
	s := detecttest.New(t)
	s.Answer(detecttest.Answer{Huge: true})
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	msg := detectErr(t, d, ErrTooLarge)
	el := time.Since(start)
	runtime.ReadMemStats(&after)
	if !strings.Contains(msg, "detector.max_body 1048576") {
		t.Errorf("error %q does not name the limit", msg)
	}
	// Reading all 64 MiB would allocate over 64 MiB; stopping at the
	// limit allocates a few MiB (the limit, doubled by buffer growth).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("allocated %d MiB for a %d MiB answer with a 1 MiB limit", alloc>>20, detecttest.HugeBytes>>20)
	}
	if el > 2*time.Second {
		t.Errorf("took %v to refuse the answer", el)
	}

	// An answer whose Content-Length says it is too long is not read at all.
	s.Answer(detecttest.Answer{Body: `{"success":true,"predictions":[]}` + strings.Repeat(" ", 2000)})
	d = newHTTP(t, HTTPOptions{URL: s.URL(), MaxBody: 1024})
	if msg := detectErr(t, d, ErrTooLarge); !strings.Contains(msg, "2033 bytes") || !strings.Contains(msg, "not read") {
		t.Errorf("error %q does not give the length and the limit", msg)
	}
}

func TestHTTPDownIsUnreachable(t *testing.T) {
	s := detecttest.New(t)
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	if _, err := d.Detect(context.Background(), testFrame(t)); err != nil {
		t.Fatal(err) // leaves a kept-alive connection that Down must break
	}
	s.Down()
	msg := detectErr(t, d, ErrUnreachable)
	if !strings.Contains(msg, "connection refused") {
		t.Errorf("error %q does not say the connection was refused", msg)
	}
	s.Up()
	if _, err := d.Detect(context.Background(), testFrame(t)); err != nil {
		t.Errorf("after the detector came back: %v", err)
	}
}

func TestHTTPConcurrentDetect(t *testing.T) {
	s := detecttest.New(t)
	s.Answer(detecttest.Answer{Delay: 10 * time.Millisecond, Predictions: []detecttest.Prediction{{Label: "person", Confidence: 0.8, XMin: 1, YMin: 2, XMax: 3, YMax: 4}}})
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	frame := testFrame(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				dets, err := d.Detect(context.Background(), frame)
				if err == nil && (len(dets) != 1 || dets[0].Box != image.Rect(1, 2, 3, 4)) {
					err = fmt.Errorf("got %+v", dets)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Requests(); n != workers*each {
		t.Errorf("server saw %d requests, want %d", n, workers*each)
	}
}

func TestHTTPRedirects(t *testing.T) {
	s := detecttest.New(t)
	// Another host (another port is another origin) must never see a frame.
	elsewhere := httptest.NewServer(http.RedirectHandler(s.URL(), http.StatusTemporaryRedirect))
	t.Cleanup(elsewhere.Close)
	d := newHTTP(t, HTTPOptions{URL: elsewhere.URL + "/v1/vision/detection"})
	if msg := detectErr(t, d, ErrBadAnswer); !strings.Contains(msg, "another host") {
		t.Errorf("error %q does not say the redirect went elsewhere", msg)
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}

	// On the same host a redirect is followed, body and all.
	mux := http.NewServeMux()
	mux.Handle("/old", http.RedirectHandler("/new", http.StatusPermanentRedirect))
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := r.FormFile("image"); err != nil {
			t.Errorf("redirected request lost its image: %v", err)
		}
		fmt.Fprint(w, `{"success":true,"predictions":[]}`)
	})
	same := httptest.NewServer(mux)
	t.Cleanup(same.Close)
	d = newHTTP(t, HTTPOptions{URL: same.URL + "/old"})
	if _, err := d.Detect(context.Background(), testFrame(t)); err != nil {
		t.Errorf("same-host redirect: %v", err)
	}
}

func TestHTTPEmptyFrame(t *testing.T) {
	s := detecttest.New(t)
	d := newHTTP(t, HTTPOptions{URL: s.URL()})
	if _, err := d.Detect(context.Background(), nil); !errors.Is(err, ErrBadImage) {
		t.Errorf("empty frame: got %v, want ErrBadImage", err)
	}
	if n := s.Requests(); n != 0 {
		t.Errorf("an empty frame was sent (%d requests)", n)
	}
}
