// Package go2rtc is a client for go2rtc's REST API as the real server
// behaves (observed, March 2026 source): removal by ?src= (?name= silently does
// nothing), a failed snapshot is a 200 with an empty body, and every
// request needs a client-side timeout because go2rtc sets none. It does
// not serialise requests: the gateway actor, its only user, sends one at
// a time.
package go2rtc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"camvisor/actors/redact"
)

// Client talks to one go2rtc.
type Client struct {
	base    string // "http://127.0.0.1:1984"
	http    *http.Client
	timeout time.Duration
}

// New returns a client for the go2rtc API at base with a per-request timeout.
func New(base string, timeout time.Duration) *Client {
	return &Client{
		base:    strings.TrimRight(base, "/"),
		timeout: timeout,
		http: &http.Client{Transport: &http.Transport{
			Proxy:       nil, // go2rtc is local: never through a proxy
			DialContext: (&net.Dialer{Timeout: timeout}).DialContext,
			// A fresh connection per request: net/http silently resends a GET
			// whose reused connection turns out closed, and a frame.jpeg that
			// reached go2rtc once already may be dialling the camera; a second
			// one would be a second camera connection.
			DisableKeepAlives: true,
		}},
	}
}

// ErrUnreachable wraps transport failures: go2rtc is down, slow or
// answering garbage. Other errors are go2rtc's own answers.
var ErrUnreachable = errors.New("go2rtc unreachable")

// ErrNoFrameInTime is a frame that did not come before the caller's
// deadline: go2rtc waits for the camera's next keyframe, and a stalled
// camera leaves the request hanging.
var ErrNoFrameInTime = errors.New("no frame before the deadline")

// ErrNotFound is go2rtc's 404 for an unknown stream.
var ErrNotFound = errors.New("stream not found")

// Stream is one entry of GET /api/streams.
type Stream struct {
	Producers []Producer        `json:"producers"`
	Consumers []json.RawMessage `json:"consumers"`
}

// Producer is a stream's source as go2rtc lists it: while idle only its
// URL as written (user and password as ***); while a connection is open
// the connection's fields instead, whose URL depends on the source's kind
// (an ffmpeg: source shows the URL inside it, a tapo: source none at all)
// and whose RemoteAddr may read "A forwarded B", B being the camera's side.
// README.md here has the table of what each kind lists.
type Producer struct {
	URL        string `json:"url"`
	RemoteAddr string `json:"remote_addr"`
	FormatName string `json:"format_name"`
}

// Add registers (or updates) stream name with src in go2rtc's memory: PATCH
// leaves go2rtc's config file alone. Never call it for a stream a viewer
// may be watching: a second stream object would open a second connection.
func (c *Client) Add(ctx context.Context, name, src string) error {
	q := url.Values{"name": {name}, "src": {src}}
	code, body, err := c.do(ctx, http.MethodPatch, "/api/streams?"+q.Encode())
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		// go2rtc may quote the source, credentials and all.
		return fmt.Errorf("add stream %s: go2rtc answered %d %s", name, code, quote(body))
	}
	return nil
}

// Remove deletes stream name (DELETE ?src=). go2rtc answers 400 "yaml:
// path not exist" when its config file has no streams key although the
// removal happened; that counts as done. Confirm with List.
func (c *Client) Remove(ctx context.Context, name string) error {
	code, body, err := c.do(ctx, http.MethodDelete, "/api/streams?"+url.Values{"src": {name}}.Encode())
	if err != nil {
		return err
	}
	if code == http.StatusOK || (code == http.StatusBadRequest && strings.Contains(string(body), "yaml: path not exist")) {
		return nil
	}
	return fmt.Errorf("remove stream %s: go2rtc answered %d %s", name, code, quote(body))
}

// List returns every stream go2rtc has.
func (c *Client) List(ctx context.Context) (map[string]Stream, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/api/streams")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("list streams: go2rtc answered %d %s", code, quote(body))
	}
	var out map[string]Stream
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%w: list streams: not the JSON go2rtc writes: %v", ErrUnreachable, err)
	}
	return out, nil
}

// Get returns one stream; ErrNotFound when go2rtc does not have it.
func (c *Client) Get(ctx context.Context, name string) (Stream, error) {
	code, body, err := c.do(ctx, http.MethodGet, "/api/streams?"+url.Values{"src": {name}}.Encode())
	if err != nil {
		return Stream{}, err
	}
	if code == http.StatusNotFound {
		return Stream{}, ErrNotFound
	}
	if code != http.StatusOK {
		return Stream{}, fmt.Errorf("get stream %s: go2rtc answered %d", name, code)
	}
	var s Stream
	if err := json.Unmarshal(body, &s); err != nil {
		return Stream{}, fmt.Errorf("%w: get stream %s: %v", ErrUnreachable, name, err)
	}
	return s, nil
}

// Frame takes a JPEG from stream name through frame.jpeg. A 200 without
// an image/jpeg body is go2rtc's way of failing, and an error here.
func (c *Client) Frame(ctx context.Context, name string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/frame.jpeg?"+url.Values{"src": {name}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil && ctx.Err() != nil {
		// go2rtc waits for the camera's next keyframe; a stalled camera
		// leaves the request hanging. That is the camera's failure.
		return nil, fmt.Errorf("frame %s: %w (the camera stalls)", name, ErrNoFrameInTime)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: frame %s: %v", ErrUnreachable, name, bare(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("frame %s: reading the answer: %v", name, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("frame %s: %w", name, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("frame %s: go2rtc answered %d", name, resp.StatusCode)
	case resp.Header.Get("Content-Type") != "image/jpeg" || len(body) == 0:
		return nil, fmt.Errorf("frame %s: go2rtc answered 200 with %d bytes of %q: the camera gave no frame", name, len(body), resp.Header.Get("Content-Type"))
	}
	return body, nil
}

// do sends one request with the client timeout and reads the whole answer.
func (c *Client) do(ctx context.Context, method, path string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: %v", ErrUnreachable, method, strings.SplitN(path, "?", 2)[0], bare(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %s %s: %v", ErrUnreachable, method, strings.SplitN(path, "?", 2)[0], err)
	}
	if resp.StatusCode >= 500 {
		return resp.StatusCode, body, fmt.Errorf("%w: %s %s: %d %s", ErrUnreachable, method, strings.SplitN(path, "?", 2)[0], resp.StatusCode, quote(body))
	}
	return resp.StatusCode, body, nil
}

// quote is go2rtc's answer as an error quotes it: go2rtc may quote a
// source, credentials and all, so it is redacted, and clipped.
func quote(body []byte) string {
	return redact.Text(redact.Clip(strings.TrimSpace(string(body)), 512))
}

// bare drops the request URL from a transport error: an add's query holds
// the camera's credentials.
func bare(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
