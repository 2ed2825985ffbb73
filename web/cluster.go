package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"camvisor/messages"
)

// The cluster's side of the API (actors/CLUSTER.md): GET /api/cluster,
// and an operator's action on a camera another node runs, forwarded to
// that node.

// clusterAnswer is GET /api/cluster.
type clusterAnswer struct {
	Node    string          `json:"node"`
	Members []clusterMember `json:"members"`
	Cameras []cameraOwner   `json:"cameras"`
}

type clusterMember struct {
	Node    string `json:"node"`
	URL     string `json:"url"`
	Healthy bool   `json:"healthy"`
	Cameras int    `json:"cameras"`
}

type cameraOwner struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	Epoch int64  `json:"epoch"`
}

// cluster is GET /api/cluster: the members, and who owns every camera
// ("" when no node does). On a single node the one member is this node
// (its host name), owning every camera at epoch 0.
func (s *Server) cluster(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := askCtx(r, 3*time.Second)
	defer cancel()
	v, err := s.opts.Tree.Cluster(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := clusterAnswer{Node: v.Node, Members: []clusterMember{}, Cameras: []cameraOwner{}}
	for _, m := range v.Members {
		out.Members = append(out.Members, clusterMember{Node: m.Node, URL: m.URL, Healthy: m.Healthy, Cameras: m.Cameras})
	}
	for _, c := range v.Cameras {
		out.Cameras = append(out.Cameras, cameraOwner{ID: c.ID, Owner: c.Owner, Epoch: c.Epoch})
	}
	writeJSON(w, http.StatusOK, out)
}

// ForwardedHeader marks a request one node forwarded to another, naming
// the node it came through: it is never forwarded again.
const ForwardedHeader = "X-Camvisor-Forwarded-By"

// OwnerHeader names the node that answered a forwarded request.
const OwnerHeader = "X-Camvisor-Node"

// forwarded serves an operator's action on camera {id} here when this
// node runs the camera, and otherwise forwards it to the node that does,
// over HTTP with this node's operator token (the nodes share auth.token),
// answering with that node's answer; wait bounds the forwarded request.
// A camera no node owns, or whose node cannot be reached, is answered
// with an error that says so.
func (s *Server) forwarded(wait func() time.Duration, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Tree == nil || !s.config().Cluster.Enabled() {
			next(w, r)
			return
		}
		ctx, cancel := askCtx(r, 3*time.Second)
		v, err := s.opts.Tree.Cluster(ctx)
		cancel()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		id := r.PathValue("id")
		var owner *messages.CameraOwner
		for i := range v.Cameras {
			if v.Cameras[i].ID == id {
				owner = &v.Cameras[i]
			}
		}
		switch {
		case owner != nil && owner.Local && owner.StartsIn > 0:
			w.Header().Set("Retry-After", strconv.Itoa(int(owner.StartsIn.Seconds())+1))
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("camera %s was just taken over by this node (%s): it opens no connection before its previous owner's processes are surely gone, in %s",
				id, v.Node, owner.StartsIn.Round(100*time.Millisecond)))
			return
		case owner == nil || owner.Local:
			next(w, r) // not configured here (404), or ours
			return
		case owner.Owner == "":
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("camera %s is owned by no node right now (handed over, or its node just failed): try again in a few seconds", id))
			return
		case r.Header.Get(ForwardedHeader) != "":
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("camera %s runs on node %s, not on this node (%s); a forwarded request is not forwarded again",
				id, owner.Owner, v.Node))
			return
		case owner.URL == "":
			writeError(w, http.StatusBadGateway, fmt.Sprintf("camera %s runs on node %s, whose address is not known here", id, owner.Owner))
			return
		}
		s.forward(w, r, v.Node, owner, wait())
	}
}

// forward sends r to the node that runs the camera and copies its answer.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, self string, owner *messages.CameraOwner, wait time.Duration) {
	s.extend(w, wait)
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	target := strings.TrimRight(owner.URL, "/") + r.URL.Path
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, target, bytes.NewReader(body))
	if err != nil {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("camera %s runs on node %s at %s: %v", owner.ID, owner.Owner, owner.URL, err))
		return
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(ForwardedHeader, self)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		why := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Sprintf("no answer within %s", wait)
		}
		writeError(w, http.StatusBadGateway, fmt.Sprintf("camera %s runs on node %s at %s, which cannot be reached: %s", owner.ID, owner.Owner, owner.URL, why))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		writeError(w, http.StatusBadGateway, fmt.Sprintf("node %s refused the forwarded request for camera %s: the nodes must share one operator token (auth.token)", owner.Owner, owner.ID))
		return
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set(OwnerHeader, owner.Owner)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
}

// The longest a forwarded action waits for the node that runs the
// camera: what that node's handler waits (its budget, API.md), plus
// forwardHop for the hop.
const forwardHop = 5 * time.Second

func (s *Server) captureWait() time.Duration {
	ff := s.opts.Config.FFmpeg
	return ff.CaptureTimeout.Duration + ff.KillGrace.Duration + s.lim.CaptureMargin + forwardHop
}

func (s *Server) restartWait() time.Duration {
	return s.opts.Config.FFmpeg.KillGrace.Duration + s.lim.Restart + forwardHop
}

func (s *Server) liveWait() time.Duration { return s.lim.Live + forwardHop }

func (s *Server) questionWait() time.Duration { return s.lim.Question + forwardHop }

func (s *Server) pauseWait() time.Duration { return s.opts.Tree.ReloadBudget() + forwardHop }
