package go2rtctest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// One test per row of GO2RTC.md's Stream API table, with go2rtc's exact
// answers. Nothing here dials a camera: registering a stream never does.

const (
	srcA = "rtsp://admin:pw@127.0.0.1:8554/cam1"
	srcB = "rtsp://admin:pw@127.0.0.1:8554/cam2"
)

func TestPutCreatesStreamAndWritesConfig(t *testing.T) {
	s := New(t, Options{})
	r := call(t, s, http.MethodPut, "/api/streams", url.Values{"name": {"cam1"}, "src": {srcA}})
	expect(t, "PUT", r, http.StatusOK, "")
	want := map[string][]string{"cam1": {srcA}}
	if got := s.Streams(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("streams after PUT: got %v, want %v", got, want)
	}
	if got := s.ConfigFile(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("config file after PUT: got %v, want %v", got, want)
	}

	// PUT again replaces the stream of that name.
	put(t, s, "cam1", srcB)
	want = map[string][]string{"cam1": {srcB}}
	if got := s.Streams(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("streams after second PUT: got %v, want %v", got, want)
	}
}

func TestPutTakesRepeatedSrc(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA, srcB)
	expect(t, "GET list", call(t, s, http.MethodGet, "/api/streams", nil), http.StatusOK,
		`{"cam1":{"producers":[{"url":"`+maskUserinfo(srcA)+`"},{"url":"`+maskUserinfo(srcB)+`"}],"consumers":null}}`+"\n")
}

func TestPutWithoutNameNamesStreamAfterURL(t *testing.T) {
	s := New(t, Options{})
	r := call(t, s, http.MethodPut, "/api/streams", url.Values{"src": {srcA}})
	expect(t, "PUT ?src=", r, http.StatusOK, "")
	if got := s.Streams()[srcA]; !slices.Equal(got, []string{srcA}) {
		t.Errorf("stream named after its URL: got %v in %v", got, s.Streams())
	}
}

func TestPutNameWithoutSrcListsAndCreatesNothing(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	r := call(t, s, http.MethodPut, "/api/streams", url.Values{"name": {"cam2"}})
	expect(t, "PUT ?name= without src", r, http.StatusOK,
		`{"cam1":{"producers":[{"url":"`+maskUserinfo(srcA)+`"}],"consumers":null}}`+"\n")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if _, ok := s.Streams()["cam2"]; ok {
		t.Errorf("PUT without src created cam2: %v", s.Streams())
	}
	if _, ok := s.ConfigFile()["cam2"]; ok {
		t.Errorf("PUT without src wrote cam2 to the config file: %v", s.ConfigFile())
	}
}

// refused checks that PUT (and PATCH) of src answer 400 msg and create
// nothing.
func refused(t *testing.T, src, msg string) {
	t.Helper()
	s := New(t, Options{})
	for _, method := range []string{http.MethodPut, http.MethodPatch} {
		r := call(t, s, method, "/api/streams", url.Values{"name": {"cam1"}, "src": {src}})
		expect(t, fmt.Sprintf("%s src=%q", method, src), r, http.StatusBadRequest, msg+"\n")
	}
	if len(s.Streams()) != 0 || len(s.ConfigFile()) != 0 {
		t.Errorf("refused source %q was registered: streams %v, config %v", src, s.Streams(), s.ConfigFile())
	}
}

func TestPutUnknownSchemeRefused(t *testing.T) {
	for _, src := range []string{"foo://127.0.0.1/cam1", "RTSP://127.0.0.1/cam1", "cam1", ":rtsp"} {
		refused(t, src, "streams: source not supported")
	}
}

func TestPutInsecureProducerRefused(t *testing.T) {
	for _, src := range []string{"exec:ffmpeg -i rtsp://127.0.0.1/cam1 -f rtsp {output}", "echo:rtsp://127.0.0.1/cam1", "expr:1"} {
		refused(t, src, "streams: source from insecure producer")
	}
}

func TestPutSourceWithSpacesRefused(t *testing.T) {
	for _, src := range []string{"rtsp://127.0.0.1/cam 1", "ffmpeg:rtsp://127.0.0.1/cam1#video=h264\t#hardware", "rtsp://127.0.0.1/cam1\n"} {
		refused(t, src, "streams: source with spaces may be insecure")
	}
}

func TestPatchRegistersInMemoryOnly(t *testing.T) {
	s := New(t, Options{})
	r := call(t, s, http.MethodPatch, "/api/streams", url.Values{"name": {"cam1"}, "src": {srcA}})
	expect(t, "PATCH new", r, http.StatusOK, "")
	r = call(t, s, http.MethodPatch, "/api/streams", url.Values{"name": {"cam1"}, "src": {srcB}})
	expect(t, "PATCH existing", r, http.StatusOK, "")
	want := map[string][]string{"cam1": {srcB}}
	if got := s.Streams(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("streams after PATCH: got %v, want %v", got, want)
	}
	if got := s.ConfigFile(); len(got) != 0 {
		t.Errorf("PATCH wrote the config file: %v", got)
	}
	r = call(t, s, http.MethodPatch, "/api/streams", url.Values{"src": {srcA}})
	expect(t, "PATCH without name", r, http.StatusBadRequest, "\n")
}

func TestGetListsStreamsByName(t *testing.T) {
	s := New(t, Options{})
	r := call(t, s, http.MethodGet, "/api/streams", nil)
	expect(t, "GET empty list", r, http.StatusOK, "{}\n")
	put(t, s, "cam2", srcB)
	call(t, s, http.MethodPatch, "/api/streams", url.Values{"name": {"cam1"}, "src": {srcA}})
	r = call(t, s, http.MethodGet, "/api/streams", nil)
	expect(t, "GET list", r, http.StatusOK,
		`{"cam1":{"producers":[{"url":"`+maskUserinfo(srcA)+`"}],"consumers":null},"cam2":{"producers":[{"url":"`+maskUserinfo(srcB)+`"}],"consumers":null}}`+"\n")
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
}

func TestGetOneStream(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	r := call(t, s, http.MethodGet, "/api/streams", url.Values{"src": {"cam1"}})
	expect(t, "GET ?src=cam1", r, http.StatusOK,
		"{\n  \"producers\": [\n    {\n      \"url\": \""+maskUserinfo(srcA)+"\"\n    }\n  ],\n  \"consumers\": null\n}\n")
	r = call(t, s, http.MethodGet, "/api/streams", url.Values{"src": {"nope"}})
	expect(t, "GET ?src=unknown", r, http.StatusNotFound, "\n")
}

func TestDeleteBySrcRemoves(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	put(t, s, "cam2", srcB)
	r := call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"cam1"}})
	expect(t, "DELETE ?src=cam1", r, http.StatusOK, "")
	want := map[string][]string{"cam2": {srcB}}
	if got := s.Streams(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("streams after DELETE: got %v, want %v", got, want)
	}
	if got := s.ConfigFile(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("config file after DELETE: got %v, want %v", got, want)
	}
	r = call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"never-was"}})
	expect(t, "DELETE ?src=unknown", r, http.StatusOK, "")
}

func TestDeleteWithoutStreamsKeyAnswers400ButRemoves(t *testing.T) {
	s := New(t, Options{ConfigHasNoStreamsKey: true})
	call(t, s, http.MethodPatch, "/api/streams", url.Values{"name": {"cam1"}, "src": {srcA}})
	r := call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"cam1"}})
	expect(t, "DELETE without streams: key", r, http.StatusBadRequest, "yaml: path not exist\n")
	if got := s.Streams(); len(got) != 0 {
		t.Errorf("DELETE answered 400 but must still remove: streams %v", got)
	}

	// A PUT writes the streams: key, as go2rtc's config patch does; from then
	// on DELETE answers 200.
	put(t, s, "cam2", srcB)
	r = call(t, s, http.MethodDelete, "/api/streams", url.Values{"src": {"cam2"}})
	expect(t, "DELETE after PUT wrote the key", r, http.StatusOK, "")
}

func TestDeleteByNameIsSilentNoOp(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	list := `{"cam1":{"producers":[{"url":"` + maskUserinfo(srcA) + `"}],"consumers":null}}` + "\n"
	r := call(t, s, http.MethodDelete, "/api/streams", url.Values{"name": {"cam1"}})
	expect(t, "DELETE ?name=cam1", r, http.StatusOK, list)
	expect(t, "GET after DELETE ?name=", call(t, s, http.MethodGet, "/api/streams", nil), http.StatusOK, list)
	if !slices.Contains(s.Requests(), "DELETE /api/streams?name=cam1") {
		t.Errorf("Requests() lacks the DELETE: %q", s.Requests())
	}
}

// removeAndConfirm removes a stream the way a gateway does, using param
// (which must be "src"), and confirms with GET /api/streams that the name is
// gone, as GO2RTC.md asks.
func removeAndConfirm(ctx context.Context, c *http.Client, s *Server, param, name string) error {
	r, err := tryCall(ctx, c, s, http.MethodDelete, "/api/streams", url.Values{param: {name}})
	if err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if r.code != http.StatusOK {
		return fmt.Errorf("remove %s: %d %q", name, r.code, r.body)
	}
	r, err = tryCall(ctx, c, s, http.MethodGet, "/api/streams", nil)
	if err != nil {
		return fmt.Errorf("confirm removal of %s: %w", name, err)
	}
	var list map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &list); err != nil {
		return fmt.Errorf("confirm removal of %s: %w", name, err)
	}
	if _, ok := list[name]; ok {
		return fmt.Errorf("remove %s: still listed after DELETE ?%s=", name, param)
	}
	return nil
}

func TestRemovalByNameIsCaught(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	ctx := context.Background()
	if err := removeAndConfirm(ctx, client(t), s, "name", "cam1"); err == nil {
		t.Fatal("a client removing with DELETE ?name= passed its own confirmation: the stand-in removed the stream")
	}
	if err := removeAndConfirm(ctx, client(t), s, "src", "cam1"); err != nil {
		t.Errorf("removal with DELETE ?src=: %v", err)
	}
}

func TestRequestsRecordedAsSent(t *testing.T) {
	s := New(t, Options{})
	put(t, s, "cam1", srcA)
	call(t, s, http.MethodGet, "/api/streams", nil)
	call(t, s, http.MethodGet, "/stream.html", url.Values{"src": {"cam1"}})
	want := []string{
		"PUT /api/streams?" + url.Values{"name": {"cam1"}, "src": {srcA}}.Encode(),
		"GET /api/streams",
		"GET /stream.html?src=cam1",
	}
	if got := s.Requests(); !slices.Equal(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
}
