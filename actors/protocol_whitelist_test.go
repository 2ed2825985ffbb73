package actors

import (
	"slices"
	"testing"
	"time"

	"camvisor/actors/config"
)

// TestFFmpegProtocolWhitelist: every ffmpeg reads its input with the
// protocols its transport needs and no other: TCP (plus TLS for rtsps,
// UDP and RTP, or HTTP, when a directly read camera asks for that
// transport). A camera's answer can then not make ffmpeg open a file, an
// HTTP URL or anything else.
func TestFFmpegProtocolWhitelist(t *testing.T) {
	cfg := config.FFmpeg{RTSPTimeout: config.D(time.Second)}
	cases := []struct {
		input string
		own   []string
		want  string
	}{
		{"rtsp://127.0.0.1:41000/0123/front", nil, "tcp"},
		{"rtsps://cam.example:322/live", nil, "tcp,tls"},
		{"rtsp://10.0.0.4/live", []string{"-rtsp_transport", "udp"}, "tcp,udp,rtp"},
		{"rtsp://10.0.0.4/live", []string{"-rtsp_transport", "http"}, "tcp,http"},
	}
	for _, tc := range cases {
		args := snapshotArgs(cfg, snapshotJob{cameraInput: cameraInput{InputArgs: tc.own}}, tc.input, false)
		i := slices.Index(args, "-protocol_whitelist")
		if i < 0 || args[i+1] != tc.want || i > slices.Index(args, "-i") {
			t.Errorf("%s %q: args %q, want -protocol_whitelist %s before -i", tc.input, tc.own, args, tc.want)
		}
	}
}
