package camsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// Handler serves the stats and control API:
//
//	GET    /stats[?camera=NAME]        counts of every camera, or of one
//	POST   /stats/reset[?camera=NAME]  MaxOpen = Open, Total = Refused = 0
//	GET    /cameras                    every camera's configuration
//	GET    /cameras/{name}             one camera's configuration
//	POST   /cameras/{name}             create, or change the fields present
//	                                   in the JSON body (a CameraPatch)
//	DELETE /cameras/{name}             remove, closing its connections
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", s.serveStats)
	mux.HandleFunc("POST /stats/reset", s.serveReset)
	mux.HandleFunc("GET /cameras", s.serveCameras)
	mux.HandleFunc("GET /cameras/{name}", s.serveCamera)
	mux.HandleFunc("POST /cameras/{name}", s.servePatch)
	mux.HandleFunc("DELETE /cameras/{name}", s.serveDelete)
	return mux
}

// statsReply is the body of GET /stats.
type statsReply struct {
	Cameras map[string]CameraStats `json:"cameras"`
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("camera")
	if name == "" {
		writeJSON(w, http.StatusOK, statsReply{Cameras: s.AllStats()})
		return
	}
	cam := s.camera(name)
	if cam == nil {
		writeError(w, http.StatusNotFound, "no camera "+name)
		return
	}
	writeJSON(w, http.StatusOK, cam.stats())
}

func (s *Server) serveReset(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("camera")
	if name == "" {
		s.ResetStats()
		writeJSON(w, http.StatusOK, statsReply{Cameras: s.AllStats()})
		return
	}
	if err := s.ResetCameraStats(name); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.Stats(name))
}

func (s *Server) serveCameras(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Cameras())
}

func (s *Server) serveCamera(w http.ResponseWriter, r *http.Request) {
	c, ok := s.Camera(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no camera "+r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// patchBody is a CameraPatch that may repeat the camera's name.
type patchBody struct {
	Name *string `json:"name"`
	CameraPatch
}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var body patchBody
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "camera "+name+": "+err.Error())
		return
	}
	if body.Name != nil && *body.Name != name {
		writeError(w, http.StatusBadRequest, "camera "+name+": body names "+*body.Name)
		return
	}
	created, err := s.upsert(name, body.CameraPatch)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c, _ := s.Camera(name)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, c)
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	if err := s.RemoveCamera(r.PathValue("name")); err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
