package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"camvisor/actors/osproc"
	"camvisor/actors/redact"
	"camvisor/actors/rtsprelay"
)

// cmdProbe connects to a camera once and says what it sends — codec,
// resolution, frame rate, keyframe interval, the authentication it asked
// for, how long a whole picture takes — and the camera config that suits
// it. ffprobe reads the camera through camvisor's RTSP relay, as the
// server's ffmpeg does: the password is never on a command line but
// camvisor's own, and not there either with --password-file.
// --connections N then opens up to N connections at once, one by one,
// and stops at the first the camera refuses: the only way to learn its
// limit, and one that other clients of the camera (an NVR, a phone app)
// falsify by holding some.
func cmdProbe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("probe", stdout, stderr)
	passFile := fs.String("password-file", "", "read the password for the URL's user from this file (- for stdin); keeps it off camvisor's command line")
	conns := fs.Int("connections", 0, "also open up to N connections at once, stopping at the first refusal, to measure max_connections (0: do not)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	duration := fs.Duration("duration", 30*time.Second, "read the stream at most this long (long enough for three keyframes)")
	timeout := fs.Duration("timeout", 10*time.Second, "the camera's connect and socket timeout")
	ffprobe := fs.String("ffprobe", "ffprobe", "the ffprobe executable (Debian's ffmpeg package)")
	ffmpeg := fs.String("ffmpeg", "ffmpeg", "the ffmpeg executable, for --connections")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "camvisor probe: want one camera URL: camvisor probe rtsp://USER@HOST/PATH --password-file FILE")
		fs.printFlags(stderr)
		return errUsage
	}
	if *conns < 0 || *conns > 16 {
		fmt.Fprintln(stderr, "camvisor probe: --connections wants 1 to 16 (0: do not test)")
		return errUsage
	}
	raw := fs.Arg(0)
	camURL, err := probeURL(raw, *passFile, stderr)
	if err != nil {
		return err
	}
	relay, err := rtsprelay.New(rtsprelay.Options{})
	if err != nil {
		return err
	}
	defer relay.Close()
	tag := "probe-" + randomHex(8)
	rep, err := probeStream(relay, camURL, tag, *ffprobe, *duration, *timeout)
	if err != nil {
		return err
	}
	rep.URL = redact.URL(camURL)
	if *conns > 0 {
		rep.Connections = probeConnections(relay, camURL, tag, *ffmpeg, *conns, *timeout)
	}
	rep.Suggested = suggest(rep, camURL, *passFile != "" || hasPassword(raw))
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// probeURL is the camera URL with the password from passFile put in.
func probeURL(raw, passFile string, stderr io.Writer) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
		return "", fmt.Errorf("probe: %q is not an rtsp:// or rtsps:// URL with a host", redact.URL(raw))
	}
	if passFile == "" {
		if hasPassword(raw) {
			fmt.Fprintln(stderr, "camvisor probe: warning: the password is on this command line, which every local user can read (ps); --password-file keeps it off")
		}
		return raw, nil
	}
	if u.User == nil || u.User.Username() == "" {
		return "", errors.New("probe: --password-file needs a user in the URL: rtsp://USER@HOST/PATH")
	}
	if hasPassword(raw) {
		return "", errors.New("probe: the URL has a password of its own: give it one way only")
	}
	var data []byte
	if passFile == "-" {
		data, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		data, err = os.ReadFile(passFile)
	}
	if err != nil {
		return "", fmt.Errorf("probe: --password-file: %w", err)
	}
	pw := strings.TrimRight(string(data), "\r\n")
	if pw == "" {
		return "", errors.New("probe: --password-file is empty")
	}
	u.User = url.UserPassword(u.User.Username(), pw)
	return u.String(), nil
}

func hasPassword(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

// probeReport is what the probe learnt; its JSON is --json's output.
type probeReport struct {
	URL     string `json:"url"` // redacted
	Codec   string `json:"codec"`
	Profile string `json:"profile,omitempty"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	// FPS is measured from the frames' timestamps.
	FPS float64 `json:"fps"`
	// KeyframeInterval is the mean time between keyframes (the GOP), in
	// seconds; 0 when fewer than two were seen. EveryFrameKey: each frame
	// is a whole picture (MJPEG, or an all-intra stream).
	KeyframeInterval float64 `json:"keyframe_interval_s"`
	EveryFrameKey    bool    `json:"every_frame_key"`
	Keyframes        int     `json:"keyframes_seen"`
	Frames           int     `json:"frames_seen"`
	Audio            string  `json:"audio,omitempty"`
	// Auth is the authentication the camera asked for: basic, digest or
	// none.
	Auth string `json:"auth"`
	// Connect is from starting ffprobe to the stream's first frame;
	// FirstPicture to its first keyframe: what a snapshot costs.
	Connect      float64 `json:"connect_s"`
	FirstPicture float64 `json:"first_picture_s"`
	// Connections is --connections' result.
	Connections *connectionsReport `json:"connections,omitempty"`
	Suggested   suggestion         `json:"suggested"`
}

// connectionsReport is what --connections found.
type connectionsReport struct {
	Tried    int    `json:"tried"`    // the N asked for
	Accepted int    `json:"accepted"` // connections that streamed at once
	Refused  string `json:"refused,omitempty"`
}

// suggestion is the camera config the probe suggests.
type suggestion struct {
	Mode           string   `json:"mode"`
	DetectURL      string   `json:"detect_url,omitempty"` // guessed, not probed; redacted
	MaxConnections int      `json:"max_connections"`
	Notes          []string `json:"notes"`
	YAML           string   `json:"yaml"`
}

// packetLine is one packet of ffprobe's -show_packets, with when its
// line arrived.
type packetLine struct {
	pts  float64 // NaN when ffprobe has none (a stream's first packet)
	key  bool
	seen time.Duration // since ffprobe started
}

// probeStream runs ffprobe on the camera through the relay until it has
// seen three keyframes (two intervals) and a second of frames, or for
// duration, and reads the report from what it printed.
func probeStream(relay *rtsprelay.Relay, camURL, tag, ffprobe string, duration, timeout time.Duration) (*probeReport, error) {
	path, err := relay.Open(camURL, timeout)
	if err != nil {
		return nil, err
	}
	defer path.Close()
	// The clock starts as ffprobe is started: what an operator waits.
	pk := &packets{enough: make(chan struct{}), start: time.Now()}
	args := []string{
		"-hide_banner", "-v", "info",
		"-rtsp_transport", "tcp",
		"-timeout", strconv.FormatInt(timeout.Microseconds(), 10),
		// As the server's snapshots (probeArgs): 1 µs, since 0 means 5 s.
		"-analyzeduration", "1", "-probesize", "32768",
		"-select_streams", "v:0",
		"-show_entries", "packet=pts_time,flags",
		"-of", "compact=p=1:nk=0",
		path.URL(),
	}
	p, err := osproc.Start(osproc.Spec{Path: ffprobe, Args: args, Env: []string{"CAMVISOR_RUN=" + tag}, TailLines: 200, Stdout: pk})
	if err != nil {
		return nil, fmt.Errorf("probe: %s: %w", ffprobe, err)
	}
	limit := time.NewTimer(duration + timeout)
	defer limit.Stop()
	select {
	case <-pk.enough:
	case <-p.Done():
	case <-limit.C:
	}
	exit := p.Stop(time.Second)
	rep := &probeReport{Auth: "none"}
	if s := path.AuthScheme(); s != "" {
		rep.Auth = s
	}
	list := pk.list()
	if len(list) == 0 {
		return nil, fmt.Errorf("probe: no frame from the camera: %s", probeFailure(exit.StderrTail))
	}
	readStreamInfo(rep, exit.StderrTail)
	measure(rep, list)
	return rep, nil
}

// packets collects ffprobe's packet lines as they come (osproc calls
// Write from the process's own goroutine), and closes enough once the
// stream has shown what the probe needs.
type packets struct {
	start  time.Time
	enough chan struct{}

	// mu guards what Write fills and list reads (two goroutines).
	mu      sync.Mutex
	partial []byte
	got     []packetLine
	keys    int
	closed  bool
}

func (pk *packets) Write(b []byte) (int, error) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	now := time.Since(pk.start)
	pk.partial = append(pk.partial, b...)
	for {
		i := bytes.IndexByte(pk.partial, '\n')
		if i < 0 {
			break
		}
		line := string(pk.partial[:i])
		pk.partial = pk.partial[i+1:]
		if p, ok := parsePacket(line); ok {
			p.seen = now
			pk.got = append(pk.got, p)
			if p.key {
				pk.keys++
			}
		}
	}
	if len(pk.partial) > 4096 {
		pk.partial = nil
	}
	// Three keyframes give two intervals; a second of frames gives the
	// frame rate (and MJPEG's keyframes come with every frame).
	if !pk.closed && pk.keys >= 3 && len(pk.got) >= 6 && span(pk.got) >= time.Second.Seconds() {
		pk.closed = true
		close(pk.enough)
	}
	return len(b), nil
}

func (pk *packets) list() []packetLine {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return append([]packetLine(nil), pk.got...)
}

// parsePacket reads "packet|pts_time=1.200000|flags=K_".
func parsePacket(line string) (packetLine, bool) {
	fields := strings.Split(strings.TrimSpace(line), "|")
	if len(fields) < 2 || fields[0] != "packet" {
		return packetLine{}, false
	}
	p := packetLine{pts: math.NaN()}
	for _, f := range fields[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "pts_time":
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				p.pts = x
			}
		case "flags":
			p.key = strings.HasPrefix(v, "K")
		}
	}
	return p, true
}

// span is the time between the first and last timestamped packets.
func span(list []packetLine) float64 {
	first, last := math.NaN(), math.NaN()
	for _, p := range list {
		if math.IsNaN(p.pts) {
			continue
		}
		if math.IsNaN(first) {
			first = p.pts
		}
		last = p.pts
	}
	if math.IsNaN(first) {
		return 0
	}
	return last - first
}

// streamLine is ffprobe's description of the video stream on stderr:
// "Stream #0:0: Video: h264 (Main), yuv420p(progressive), 1920x1080, 25 fps, ...".
var (
	streamLine = regexp.MustCompile(`Stream #\d+:\d+.*?: Video: ([A-Za-z0-9_]+)(?: \(([^)]*)\))?.*?, (\d{2,5})x(\d{2,5})`)
	audioLine  = regexp.MustCompile(`Stream #\d+:\d+.*?: Audio: ([A-Za-z0-9_]+)`)
)

// readStreamInfo takes codec, profile and resolution from ffprobe's
// description of the input (stderr).
func readStreamInfo(rep *probeReport, stderr []string) {
	for _, l := range stderr {
		if m := streamLine.FindStringSubmatch(l); m != nil && rep.Codec == "" {
			rep.Codec, rep.Profile = m[1], m[2]
			rep.Width, _ = strconv.Atoi(m[3])
			rep.Height, _ = strconv.Atoi(m[4])
		}
		if m := audioLine.FindStringSubmatch(l); m != nil && rep.Audio == "" {
			rep.Audio = m[1]
		}
	}
}

// measure reads frame rate, keyframe interval and timings from the
// packets. Packet timestamps are the camera's; the time a packet arrived
// is the time its line came out of ffprobe, which holds the packets it
// reads while probing the stream and prints them at once after: the
// packets printed as they come have the least delay between their
// timestamp and their line, and that delay dates the others.
func measure(rep *probeReport, list []packetLine) {
	rep.Frames = len(list)
	var first, last float64 = math.NaN(), math.NaN()
	firstIdx, timed := -1, 0
	offset := math.Inf(1)
	for i, p := range list {
		if p.key {
			rep.Keyframes++
		}
		if math.IsNaN(p.pts) {
			continue
		}
		if firstIdx < 0 {
			first, firstIdx = p.pts, i
		}
		last = p.pts
		timed++
		offset = min(offset, p.seen.Seconds()-p.pts)
	}
	if timed >= 2 && last > first {
		rep.FPS = round(float64(timed-1)/(last-first), 2)
	}
	// A packet without a timestamp (ffprobe gives the first none) is
	// placed one frame before the next.
	frame := 0.0
	if rep.FPS > 0 {
		frame = 1 / rep.FPS
	}
	ptsOf := func(i int) float64 {
		if !math.IsNaN(list[i].pts) {
			return list[i].pts
		}
		if firstIdx < 0 {
			return math.NaN()
		}
		return first - float64(firstIdx-i)*frame
	}
	var keys []float64
	for i, p := range list {
		if p.key {
			keys = append(keys, ptsOf(i))
		}
	}
	rep.EveryFrameKey = rep.Keyframes == rep.Frames && rep.Frames > 1
	if len(keys) >= 2 && !rep.EveryFrameKey {
		rep.KeyframeInterval = round((keys[len(keys)-1]-keys[0])/float64(len(keys)-1), 2)
	} else if rep.EveryFrameKey && rep.FPS > 0 {
		rep.KeyframeInterval = round(frame, 2)
	}
	if math.IsInf(offset, 1) {
		return
	}
	rep.Connect = round(max(0, offset+ptsOf(0)), 2)
	if len(keys) > 0 {
		rep.FirstPicture = round(max(rep.Connect, offset+keys[0]), 2)
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// probeFailure words why ffprobe got no frame, from its stderr. The
// camera's answer is read from the lines where ffmpeg gives it — "method
// DESCRIBE failed: 453 Not Enough Bandwidth", then "URL: Server returned
// 401 Unauthorized (authorization failed)" — and nowhere else: the same
// lines carry a pointer ("[rtsp @ 0x55…]") and the relay's URL (a port,
// a random token), whose digits spell "401" or "404" about once in a
// hundred runs.
func probeFailure(tail []string) string {
	status := ""
	for _, l := range tail {
		if m := methodFailed.FindStringSubmatch(l); m != nil {
			status = m[1]
		} else if m := serverReturned.FindStringSubmatch(l); m != nil && status == "" {
			status = m[1]
		}
	}
	switch {
	case status == "401":
		return "the camera refused the user and password (401 Unauthorized)"
	case status == "453":
		return "refused with 453 Not Enough Bandwidth: every connection the camera allows is taken"
	case status == "404":
		return "the camera has no stream at this path (404 Not Found)"
	case strings.HasPrefix(status, "5"):
		return "the camera could not be reached, or answered with a server error (5xx)"
	}
	if len(tail) == 0 {
		return "ffprobe said nothing"
	}
	return redact.Text(tail[len(tail)-1])
}

// methodFailed and serverReturned are ffmpeg's lines for an RTSP answer
// other than 200 (libavformat/rtsp.c, and av_strerror's words for its
// error codes, which name 4XX and 5XX without the code).
var (
	methodFailed   = regexp.MustCompile(`\bmethod [A-Z_]+ failed: (\d{3})\b`)
	serverReturned = regexp.MustCompile(`: Server returned (\d{3}|[45]XX)\b`)
)

// probeConnections opens connections to the camera one at a time, each
// an ffmpeg reading the stream through the relay (copying it to nowhere,
// no decoding), and keeps them all open, until n stream at once or the
// camera refuses one. All are stopped (and reaped) before it returns.
func probeConnections(relay *rtsprelay.Relay, camURL, tag, ffmpeg string, n int, timeout time.Duration) *connectionsReport {
	rep := &connectionsReport{Tried: n}
	type open struct {
		p    *osproc.Process
		path *rtsprelay.Path
	}
	var held []open
	defer func() {
		for _, o := range held {
			o.p.Stop(time.Second)
			o.path.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		path, err := relay.Open(camURL, timeout)
		if err != nil {
			rep.Refused = err.Error()
			return rep
		}
		progress := &progressWriter{frames: make(chan struct{})}
		args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
			"-rtsp_transport", "tcp", "-timeout", strconv.FormatInt(timeout.Microseconds(), 10),
			"-analyzeduration", "1", "-probesize", "32768",
			"-i", path.URL(), "-map", "0:v:0", "-c", "copy", "-f", "null", "-",
			"-progress", "pipe:1", "-stats_period", "0.2"}
		p, err := osproc.Start(osproc.Spec{Path: ffmpeg, Args: args, Env: []string{"CAMVISOR_RUN=" + tag}, TailLines: 20, Stdout: progress})
		if err != nil {
			path.Close()
			rep.Refused = fmt.Sprintf("%s: %v", ffmpeg, err)
			return rep
		}
		held = append(held, open{p, path})
		wait := time.NewTimer(2*timeout + 5*time.Second)
		select {
		case <-progress.frames:
			wait.Stop()
			rep.Accepted = i
			continue
		case <-p.Done():
			rep.Refused = fmt.Sprintf("connection %d: %s", i, probeFailure(p.Exit().StderrTail))
		case <-wait.C:
			rep.Refused = fmt.Sprintf("connection %d: no frame within %s", i, 2*timeout+5*time.Second)
		}
		return rep
	}
	return rep
}

// progressWriter reads ffmpeg's -progress lines and closes frames at the
// first frame copied.
type progressWriter struct {
	frames chan struct{}
	mu     sync.Mutex // Write runs on the process's goroutine; once is enough
	done   bool
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok && !w.done {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				w.done = true
				close(w.frames)
			}
		}
	}
	return len(b), nil
}

// suggest is the camera config the probe's findings point to.
func suggest(rep *probeReport, camURL string, hasSecret bool) suggestion {
	s := suggestion{Mode: "snapshot", MaxConnections: 2}
	worst := rep.Connect + rep.KeyframeInterval
	switch {
	case rep.EveryFrameKey:
		s.Notes = append(s.Notes, fmt.Sprintf("mode snapshot: every frame is a whole picture; a snapshot took %.1f s", rep.FirstPicture))
	case rep.KeyframeInterval == 0:
		s.Notes = append(s.Notes, "mode: fewer than two keyframes came within --duration; probe longer to learn the keyframe interval")
	case worst > 3:
		s.Mode = "stream"
		s.Notes = append(s.Notes, fmt.Sprintf("mode stream: a snapshot waits for a keyframe, up to %.1f s here (keyframe every %.1f s); a stream holds one connection and has a picture at once", worst, rep.KeyframeInterval))
	default:
		s.Notes = append(s.Notes, fmt.Sprintf("mode snapshot: a snapshot waits for a keyframe, %.1f-%.1f s here; for patrol intervals under about %d s, mode: stream costs less", rep.Connect, worst, int(math.Ceil(10*worst))))
	}
	if sub, vendor := guessSubStream(camURL); sub != "" {
		s.DetectURL = redact.URL(withoutPassword(sub))
		s.Notes = append(s.Notes, fmt.Sprintf("detect_url guessed from the URL's %s pattern, not probed: run camvisor probe on it before you use it", vendor))
	} else {
		s.Notes = append(s.Notes, "detect_url: no second stream guessed (only well-known URL patterns are recognised; see CAMERAS.md)")
	}
	switch c := rep.Connections; {
	case c == nil:
		s.Notes = append(s.Notes, "max_connections 2 is not measured: it is what Tapo-class cameras allow and safe for most (CAMERAS.md); --connections N measures it")
	case c.Refused != "" && c.Accepted > 0:
		s.MaxConnections = c.Accepted
		s.Notes = append(s.Notes, fmt.Sprintf("max_connections %d measured: %d streamed at once, then %s; clients of the camera other than camvisor (an NVR, a phone app, go2rtc) count against it too", c.Accepted, c.Accepted, c.Refused))
	case c.Refused != "":
		s.Notes = append(s.Notes, "max_connections not measured: the first connection failed: "+c.Refused)
	default:
		s.MaxConnections = c.Accepted
		s.Notes = append(s.Notes, fmt.Sprintf("max_connections %d: all %d connections tried streamed at once; the camera may take more (not tried)", c.Accepted, c.Tried))
	}
	s.YAML = suggestedYAML(rep, s, camURL, hasSecret)
	return s
}

// suggestedYAML is a camera entry to paste under a subnet's cameras:.
func suggestedYAML(rep *probeReport, s suggestion, camURL string, hasSecret bool) string {
	var b strings.Builder
	b.WriteString("- id: CHANGE-ME\n")
	fmt.Fprintf(&b, "  url: %s\n", withoutPassword(camURL))
	if hasSecret {
		b.WriteString("  password_file: CHANGE-ME.pw   # the password, on one line (mode 0640 root:camvisor, or a systemd credential)\n")
	}
	fmt.Fprintf(&b, "  max_connections: %d\n", s.MaxConnections)
	desc := rep.Codec
	switch {
	case rep.EveryFrameKey:
		desc += ", every frame whole"
	case rep.KeyframeInterval > 0:
		desc += fmt.Sprintf(", a keyframe every %.1f s", rep.KeyframeInterval)
	}
	fmt.Fprintf(&b, "  mode: %s   # %s\n", s.Mode, desc)
	if s.DetectURL != "" {
		fmt.Fprintf(&b, "  detect_url: %s   # guessed, not probed\n", s.DetectURL)
	}
	return b.String()
}

// withoutPassword is raw without its password (the user stays).
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// subStreams are the well-known URL patterns of a main stream and its
// sub-stream (CAMERAS.md lists them with their sources). Only these are
// guessed; any other camera's second stream is for its manual to say.
var subStreams = []struct {
	vendor   string
	main     *regexp.Regexp
	sub      string
	forQuery bool // the pattern is matched against the query
}{
	{"Hikvision", regexp.MustCompile(`(?i)^(/Streaming/Channels/\d*)01/?$`), "${1}02", false},
	{"Hikvision", regexp.MustCompile(`(?i)^(/h26[45]/ch\d+/)main(/av_stream)$`), "${1}sub${2}", false},
	{"Dahua/Amcrest", regexp.MustCompile(`(?i)^(.*\bsubtype=)0(\b.*)$`), "${1}1${2}", true},
	{"Tapo", regexp.MustCompile(`^/stream1$`), "/stream2", false},
	{"Reolink", regexp.MustCompile(`(?i)^(/(?:h26[45])?Preview_\d+_)main$`), "${1}sub", false},
	{"Uniview", regexp.MustCompile(`(?i)^/media/video1$`), "/media/video2", false},
	{"Uniview", regexp.MustCompile(`(?i)^(/unicast/c\d+/s)0(/live)$`), "${1}1${2}", false},
	{"Foscam", regexp.MustCompile(`^/videoMain$`), "/videoSub", false},
}

// guessSubStream is the sub-stream URL of a main stream's, by the
// patterns above; "" when none matches.
func guessSubStream(raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	for _, p := range subStreams {
		target := u.EscapedPath()
		if p.forQuery {
			target = u.RawQuery
		}
		if !p.main.MatchString(target) {
			continue
		}
		out := p.main.ReplaceAllString(target, p.sub)
		v := *u
		if p.forQuery {
			v.RawQuery = out
		} else if err := v.UnmarshalBinary([]byte(u.Scheme + "://" + u.Host + out)); err == nil {
			v.User = u.User
			v.RawQuery = u.RawQuery
		}
		return v.String(), p.vendor
	}
	if strings.HasSuffix(u.Path, "/axis-media/media.amp") && !strings.Contains(u.RawQuery, "resolution=") {
		v := *u
		q := v.Query()
		q.Set("resolution", "640x360")
		v.RawQuery = q.Encode()
		return v.String(), "Axis (a lower resolution of the same stream)"
	}
	return "", ""
}

// print writes the report for a person.
func (r *probeReport) print(w io.Writer) {
	fmt.Fprintf(w, "camera            %s\n", r.URL)
	codec := r.Codec
	if r.Profile != "" {
		codec += " (" + r.Profile + ")"
	}
	fmt.Fprintf(w, "codec             %s\n", codec)
	fmt.Fprintf(w, "resolution        %dx%d\n", r.Width, r.Height)
	fmt.Fprintf(w, "frame rate        %.2f fps (measured over %d frames)\n", r.FPS, r.Frames)
	switch {
	case r.EveryFrameKey:
		fmt.Fprintf(w, "keyframe interval every frame (each is a whole picture)\n")
	case r.KeyframeInterval > 0:
		fmt.Fprintf(w, "keyframe interval %.2f s (GOP, %d keyframes seen)\n", r.KeyframeInterval, r.Keyframes)
	default:
		fmt.Fprintf(w, "keyframe interval unknown (%d keyframes seen; try a longer --duration)\n", r.Keyframes)
	}
	if r.Audio != "" {
		fmt.Fprintf(w, "audio             %s\n", r.Audio)
	}
	fmt.Fprintf(w, "auth              %s\n", r.Auth)
	fmt.Fprintf(w, "first picture     %.2f s (first frame after %.2f s, then the wait for a keyframe)\n", r.FirstPicture, r.Connect)
	if c := r.Connections; c != nil {
		if c.Refused != "" {
			fmt.Fprintf(w, "connections       %d of %d at once; %s\n", c.Accepted, c.Tried, c.Refused)
		} else {
			fmt.Fprintf(w, "connections       %d of %d at once, none refused\n", c.Accepted, c.Tried)
		}
	}
	fmt.Fprintf(w, "\nsuggested config (under a subnet's cameras:):\n\n")
	for _, l := range strings.Split(strings.TrimRight(r.Suggested.YAML, "\n"), "\n") {
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintln(w)
	for _, n := range r.Suggested.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
