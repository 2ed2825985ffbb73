package detecttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"syscall"
	"testing"
	"time"

	"camvisor/actors/testkit"
)

// form builds a multipart body with one part.
func form(t *testing.T, field, filename, contentType string, data []byte) (body []byte, ct string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	disp := `form-data; name="` + field + `"`
	if filename != "" {
		disp += `; filename="` + filename + `"`
	}
	h.Set("Content-Disposition", disp)
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	p, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = p.Write(data)
	_ = mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

func smallJPEG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// post sends one request and returns the status and body.
func post(t *testing.T, method, url, contentType string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestGarbageRequestsFailTheTest(t *testing.T) {
	img := smallJPEG(t)
	cases := []struct {
		name   string
		method string
		build  func() ([]byte, string)
	}{
		{"GET", http.MethodGet, func() ([]byte, string) { return nil, "" }},
		{"not multipart", http.MethodPost, func() ([]byte, string) { return img, "image/jpeg" }},
		{"no image field", http.MethodPost, func() ([]byte, string) { return form(t, "file", "frame.jpg", "image/jpeg", img) }},
		{"no filename", http.MethodPost, func() ([]byte, string) { return form(t, "image", "", "image/jpeg", img) }},
		{"wrong part type", http.MethodPost, func() ([]byte, string) { return form(t, "image", "frame.jpg", "application/octet-stream", img) }},
		{"not a jpeg", http.MethodPost, func() ([]byte, string) { return form(t, "image", "frame.jpg", "image/jpeg", []byte("GIF89a")) }},
		{"truncated jpeg", http.MethodPost, func() ([]byte, string) { return form(t, "image", "frame.jpg", "image/jpeg", img[:len(img)/2]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := &testkit.RecordingTB{TB: t}
			s := New(rec)
			body, ct := c.build()
			code, _ := post(t, c.method, s.URL(), ct, body)
			if code != http.StatusBadRequest {
				t.Errorf("answered %d, want 400", code)
			}
			errs := rec.Errors()
			if len(errs) != 1 {
				t.Errorf("recorded errors %q, want one", errs)
			}
			t.Logf("recorded: %s", strings.Join(errs, "; "))
			if n := s.Requests(); n != 1 {
				t.Errorf("Requests() = %d, want 1", n)
			}
		})
	}

	t.Run("good request", func(t *testing.T) {
		rec := &testkit.RecordingTB{TB: t}
		s := New(rec)
		body, ct := form(t, "image", "frame.jpg", "image/jpeg", img)
		code, answer := post(t, http.MethodPost, s.URL(), ct, body)
		if code != http.StatusOK || len(rec.Errors()) != 0 {
			t.Fatalf("answered %d %s with errors %q", code, answer, rec.Errors())
		}
		var a map[string]any
		if err := json.Unmarshal([]byte(answer), &a); err != nil || a["success"] != true || a["predictions"] == nil {
			t.Errorf("answer %s: want success true and a predictions list", answer)
		}
	})
}

func TestOtherPathsAreNotFound(t *testing.T) {
	s := New(t)
	code, _ := post(t, http.MethodPost, "http://"+s.Addr()+"/v1/vision/face", "", nil)
	if code != http.StatusNotFound || s.Requests() != 0 {
		t.Errorf("other path: %d, %d requests counted; want 404 and none", code, s.Requests())
	}
}

func TestDownRefusesAndUpServesAgain(t *testing.T) {
	s := New(t)
	s.Answer(Answer{Hang: true})
	body, ct := form(t, "image", "frame.jpg", "image/jpeg", smallJPEG(t))

	// A hanging request is cut off by Down, which returns promptly.
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, s.URL(), bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.Requests() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hanging request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	s.Down()
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Down took %v with a request hanging", el)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the hanging request got an answer")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hanging request was not cut off by Down")
	}

	_, err := http.Post(s.URL(), ct, bytes.NewReader(body))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("while down: %v, want connection refused", err)
	}

	s.Up()
	s.Answer(Answer{Predictions: []Prediction{{Label: "person", Confidence: 0.5, XMax: 1, YMax: 1}}})
	code, answer := post(t, http.MethodPost, s.URL(), ct, body)
	if code != http.StatusOK || !strings.Contains(answer, `"person"`) {
		t.Errorf("after Up: %d %s", code, answer)
	}
}
