package actors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"camvisor/actors/camauth"
	"camvisor/actors/redact"
	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// A camera with a snapshot_url takes its frames from the camera's own
// HTTP(S) JPEG endpoint instead of running ffmpeg: no process, no RTSP
// handshake, a fraction of the CPU. The fetch is a child of the camera
// like an ffmpeg one: it holds one slot (the camera counts its HTTP
// connections and its RTSP ones against the same max_connections), runs
// under the same deadline, and its stop closes the connection before the
// child is gone. It needs no admission: it starts no process.

const viaHTTP = "http" // captures.via of a frame from the camera's snapshot_url

// startHTTP takes a slot for job and fetches its frame from the
// camera's snapshot_url.
func (a *cameraActor) startHTTP(ctx actor.Context, job *captureJob) {
	deadline := time.Now().Add(a.env.Config.FFmpeg.CaptureTimeout.Duration)
	if job.req.Deadline.Before(deadline) {
		deadline = job.req.Deadline
	}
	a.carry.ffmpegSeq++
	job.via = viaHTTP
	pid, err := ctx.SpawnNamed(httpFetchProps(a.env, httpJob{Camera: a.cam.ID, URL: a.cam.SnapshotURL, Deadline: deadline}), httpName(a.carry.ffmpegSeq))
	if err != nil {
		a.answer(ctx, job, messages.OutcomeSpawnError, "spawn http fetch actor: "+err.Error(), nil)
		a.dispatch(ctx)
		return
	}
	job.child = pid.Id
	a.move(job, jobRunning)
	a.publishSlots(ctx)
}

// httpJob is what a camera gives its HTTP fetch child.
type httpJob struct {
	Camera   string
	URL      string // with credentials: only ever sent to the camera
	Deadline time.Time
}

// httpFetchActor fetches one JPEG over HTTP. Its stop cancels the request
// and waits until the connection is closed.
type httpFetchActor struct {
	life
	env      *Env
	job      httpJob
	cancel   context.CancelFunc
	done     chan struct{} // closed when the request's goroutine returned
	reported bool
}

// httpFetched carries the fetch's outcome back to its actor.
type httpFetched struct{ res messages.SnapshotTaken }

func httpFetchProps(env *Env, job httpJob) *actor.Props {
	return actor.PropsFromProducer(lived(func() *httpFetchActor { return &httpFetchActor{env: env, job: job} }))
}

// Receive runs the one fetch and reports it to the camera.
func (a *httpFetchActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *httpFetched:
		a.report(ctx, msg.res)
		ctx.Stop(ctx.Self())
	case *messages.ListOwnedProcesses:
		answerOwned(ctx, nil, nil)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "http", "fetching", map[string]any{"camera": a.job.Camera,
			"url": redact.URL(a.job.URL), "deadline": a.job.Deadline}))
	case *actor.Stopping, *actor.Restarting:
		a.onStopping(ctx)
	}
}

func (a *httpFetchActor) onStarted(ctx actor.Context) {
	var fctx context.Context
	fctx, a.cancel = context.WithDeadline(context.Background(), a.job.Deadline)
	done := make(chan struct{})
	a.done = done
	system, self, job := ctx.ActorSystem(), ctx.Self(), a.job
	go func() {
		defer close(done)
		started := time.Now()
		jpeg, outcome, err := fetchJPEG(fctx, job.URL)
		res := messages.SnapshotTaken{Outcome: outcome, JPEG: jpeg, StartedAt: started, EndedAt: time.Now(), Deadline: job.Deadline}
		if err != nil {
			res.Error = redact.ForURL(job.URL).Redact(err.Error())
		}
		system.Root.Send(self, &httpFetched{res: res})
	}()
}

// onStopping cancels the request and waits for its connection to close:
// the slot is not free while the camera still serves us. Bounded by
// kill_grace, like a process's end.
func (a *httpFetchActor) onStopping(ctx actor.Context) {
	if a.cancel == nil {
		return
	}
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(a.env.Config.FFmpeg.KillGrace.Duration):
		a.env.Log.Error("http snapshot fetch did not end after its cancel", "camera", a.job.Camera)
	}
	a.report(ctx, messages.SnapshotTaken{Outcome: messages.OutcomeStopped, Error: "stopped: " + string(messages.StopParentStopped),
		StartedAt: a.startedAt, EndedAt: time.Now(), Deadline: a.job.Deadline})
}

// report tells the camera, once.
func (a *httpFetchActor) report(ctx actor.Context, res messages.SnapshotTaken) {
	if a.reported {
		return
	}
	a.reported = true
	ctx.Request(ctx.Parent(), &res)
}

// fetchJPEG GETs a JPEG from raw, answering the camera's Basic or Digest
// challenge with the URL's credentials (never sent unasked, nor in the
// clear over Basic when Digest is offered). One fetch is one connection:
// the challenge and the answer share it, and it is closed when the fetch
// ends; no idle connection is kept, which would hold one of the camera's
// few connections for nothing.
func fetchJPEG(ctx context.Context, raw string) ([]byte, messages.Outcome, error) {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, MaxResponseHeaderBytes: 64 << 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, messages.OutcomeSpawnError, fmt.Errorf("snapshot_url: %v", err)
	}
	var user, pass string
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	resp, err := get(ctx, client, u.String(), "")
	if err == nil && resp.StatusCode == http.StatusUnauthorized && user != "" {
		challenges := resp.Header.Values("WWW-Authenticate")
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the answer reuses the connection
		resp.Body.Close()
		answer := camauth.Client{User: user, Pass: pass}
		if answer.Accept(challenges, false) {
			resp, err = get(ctx, client, u.String(), answer.Header(http.MethodGet, u.RequestURI()))
		} else {
			err = fmt.Errorf("the camera answered 401 with no challenge camvisor answers (Basic, or Digest with MD5 or SHA-256): %q", strings.Join(challenges, "; "))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, messages.OutcomeTimeout, fmt.Errorf("%w: the camera's snapshot_url did not answer in time", messages.ErrTimeout)
		}
		return nil, messages.OutcomeHTTPError, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
		return nil, messages.OutcomeBusy, fmt.Errorf("the camera answered %s: busy", resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, messages.OutcomeHTTPError, fmt.Errorf("the camera answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSnapshotBytes+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, messages.OutcomeTimeout, fmt.Errorf("%w: the JPEG did not arrive in time", messages.ErrTimeout)
	case err != nil:
		return nil, messages.OutcomeHTTPError, fmt.Errorf("reading the JPEG: %v", err)
	case len(body) > maxSnapshotBytes:
		return nil, messages.OutcomeEmpty, fmt.Errorf("snapshot larger than %d bytes", maxSnapshotBytes)
	case !isJPEG(body):
		return nil, messages.OutcomeEmpty, fmt.Errorf("the camera answered %d bytes of %q that are not a JPEG", len(body), resp.Header.Get("Content-Type"))
	}
	return body, messages.OutcomeOK, nil
}

func get(ctx context.Context, client *http.Client, target, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "image/jpeg")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return client.Do(req)
}
