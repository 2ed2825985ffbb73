package camsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Defaults of Options and Camera fields left zero. They live here and nowhere
// else.
const (
	DefaultWidth   = 320
	DefaultHeight  = 240
	DefaultFPS     = 5
	DefaultQuality = 75
	// DefaultFirstFrameBytes is about the JPEG frame size of a real 720p
	// camera: above ffmpeg's -probesize 32768.
	DefaultFirstFrameBytes = 40 << 10

	// maxSide is the largest picture side RFC 2435 can carry (255 blocks of 8
	// pixels) rounded down to whole 16-pixel MCUs.
	maxSide = 2032
	minSide = 32
	maxFPS  = 60

	// DefaultGOP is the keyframe interval of an H.264 camera: what Tapo-class
	// cameras send (one keyframe every 1-2 s).
	DefaultGOP = 2 * time.Second
	// maxGOP bounds the pre-rendered loop an H.264 camera needs.
	maxGOP = 20 * time.Second
)

// Sentinel errors callers branch on.
var (
	ErrNoCamera     = errors.New("no such camera")
	ErrCameraExists = errors.New("camera already exists")
	ErrClosed       = errors.New("server closed")
)

// Mode selects what a camera's picture shows.
type Mode string

// Picture modes.
const (
	// ModePattern is a slowly scrolling colour-bar pattern under the camera
	// name and the current time (refreshed once a second while watched).
	ModePattern Mode = "pattern"
	// ModeMotion is a static background with one bright square moving
	// across it: every frame differs from the previous one.
	ModeMotion Mode = "motion"
	// ModeStatic repeats one frame forever: consecutive frames are
	// byte-identical.
	ModeStatic Mode = "static"
)

func (m Mode) valid() bool {
	return m == ModePattern || m == ModeMotion || m == ModeStatic
}

// Codec is what a camera's RTP stream carries.
type Codec string

// Codecs.
const (
	// CodecMJPEG is RTP/JPEG (RFC 2435): every frame is a whole picture,
	// so a client's first frame is always complete.
	CodecMJPEG Codec = "mjpeg"
	// CodecH264 is RTP H.264 (RFC 6184) with a keyframe every GOP, as real
	// cameras send it: a client joins mid-GOP and has no complete picture
	// before the next keyframe. The SDP carries SPS and PPS
	// (sprop-parameter-sets); they also precede every keyframe in band.
	CodecH264 Codec = "h264"
)

func (c Codec) valid() bool { return c == CodecMJPEG || c == CodecH264 }

// Duration is a time.Duration that JSON writes as a string ("2s") and reads
// from a string or from a number of seconds.
type Duration time.Duration

// MarshalJSON writes the duration as Go duration text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1.5s"-style text or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration %s: want \"2s\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// Camera describes one simulated camera and the faults it shows. The zero
// value of every field but Name means "no fault" or "server default".
type Camera struct {
	// Name is the RTSP path: rtsp://host:port/<Name>. Letters, digits, '.',
	// '_' and '-'; at most 64 characters.
	Name string `json:"name"`
	// MaxConnections is how many connections may be open at once; the next
	// one gets "453 Not Enough Bandwidth" to its first request and is closed.
	// 0 means unlimited.
	MaxConnections int `json:"max_connections"`
	// Hang accepts connections and reads requests but never answers.
	Hang bool `json:"hang"`
	// Slow delays every answer by this much.
	Slow Duration `json:"slow"`
	// Drop closes the connection this long after PLAY.
	Drop Duration `json:"drop"`
	// Refuse resets every connection after its first request line: the
	// camera is down.
	Refuse bool `json:"refuse"`
	// Mode is the picture; empty means ModePattern.
	Mode Mode `json:"mode"`
	// FPS is frames per second; 0 means the server's default.
	FPS int `json:"fps"`
	// Codec is the stream's codec; empty means the server's default.
	Codec Codec `json:"codec"`
	// GOP is the keyframe interval of an H.264 stream (rounded to whole
	// frames); 0 means DefaultGOP. MJPEG ignores it.
	GOP Duration `json:"gop"`
	// Clock burns a timestamp into a static or motion picture, as real
	// cameras do: large, at the top left under the name, changing every
	// second. A still picture then differs from second to second in that
	// corner only: what motion masks are for. MJPEG only; a pattern
	// picture shows its own small clock anyway.
	Clock bool `json:"clock"`
}

// Validate reports the first field that is out of range.
func (c Camera) Validate() error {
	if err := validName(c.Name); err != nil {
		return err
	}
	switch {
	case c.MaxConnections < 0:
		return fmt.Errorf("camera %s: max_connections %d is negative", c.Name, c.MaxConnections)
	case c.Slow < 0:
		return fmt.Errorf("camera %s: slow %v is negative", c.Name, time.Duration(c.Slow))
	case c.Drop < 0:
		return fmt.Errorf("camera %s: drop %v is negative", c.Name, time.Duration(c.Drop))
	case c.Mode != "" && !c.Mode.valid():
		return fmt.Errorf("camera %s: mode %q is not pattern, motion or static", c.Name, c.Mode)
	case c.FPS < 0 || c.FPS > maxFPS:
		return fmt.Errorf("camera %s: fps %d is outside 1..%d", c.Name, c.FPS, maxFPS)
	case c.Codec != "" && !c.Codec.valid():
		return fmt.Errorf("camera %s: codec %q is not mjpeg or h264", c.Name, c.Codec)
	case c.GOP < 0 || time.Duration(c.GOP) > maxGOP:
		return fmt.Errorf("camera %s: gop %v is outside 0..%v", c.Name, time.Duration(c.GOP), maxGOP)
	case c.Clock && c.Codec == CodecH264:
		return fmt.Errorf("camera %s: clock needs codec mjpeg: an H.264 camera plays a loop encoded once", c.Name)
	}
	return nil
}

// gopFrames is the keyframe interval in frames, at least 1.
func (c Camera) gopFrames() int {
	gop := time.Duration(c.GOP)
	if gop == 0 {
		gop = DefaultGOP
	}
	return max(1, int((gop*time.Duration(c.FPS)+time.Second/2)/time.Second))
}

// Faults lists the camera's faults as the -camera flag writes them, e.g.
// "hang,slow=2s"; empty when it behaves.
func (c Camera) Faults() string {
	var f []string
	if c.Hang {
		f = append(f, "hang")
	}
	if c.Slow > 0 {
		f = append(f, "slow="+time.Duration(c.Slow).String())
	}
	if c.Drop > 0 {
		f = append(f, "drop="+time.Duration(c.Drop).String())
	}
	if c.Refuse {
		f = append(f, "refuse")
	}
	return strings.Join(f, ",")
}

// withDefaults fills the fields whose zero value means "server default".
func (c Camera) withDefaults(o Options) Camera {
	if c.Mode == "" {
		c.Mode = ModePattern
	}
	if c.FPS == 0 {
		c.FPS = o.FPS
	}
	if c.Codec == "" {
		c.Codec = o.Codec
	}
	if c.GOP == 0 && c.Codec == CodecH264 {
		c.GOP = Duration(DefaultGOP)
	}
	return c
}

func validName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("camera name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("camera name %q: only letters, digits, '.', '_' and '-' are allowed", name)
		}
	}
	return nil
}

// CameraPatch changes some of a camera's fields at runtime; nil fields keep
// their value. Its JSON form is that of Camera with only the changed fields.
type CameraPatch struct {
	MaxConnections *int      `json:"max_connections,omitempty"`
	Hang           *bool     `json:"hang,omitempty"`
	Slow           *Duration `json:"slow,omitempty"`
	Drop           *Duration `json:"drop,omitempty"`
	Refuse         *bool     `json:"refuse,omitempty"`
	Mode           *Mode     `json:"mode,omitempty"`
	FPS            *int      `json:"fps,omitempty"`
	Codec          *Codec    `json:"codec,omitempty"`
	GOP            *Duration `json:"gop,omitempty"`
	Clock          *bool     `json:"clock,omitempty"`
}

// Apply returns c with the patch's fields set.
func (p CameraPatch) Apply(c Camera) Camera {
	if p.MaxConnections != nil {
		c.MaxConnections = *p.MaxConnections
	}
	if p.Hang != nil {
		c.Hang = *p.Hang
	}
	if p.Slow != nil {
		c.Slow = *p.Slow
	}
	if p.Drop != nil {
		c.Drop = *p.Drop
	}
	if p.Refuse != nil {
		c.Refuse = *p.Refuse
	}
	if p.Mode != nil {
		c.Mode = *p.Mode
	}
	if p.FPS != nil {
		c.FPS = *p.FPS
	}
	if p.Codec != nil {
		c.Codec = *p.Codec
	}
	if p.GOP != nil {
		c.GOP = *p.GOP
	}
	if p.Clock != nil {
		c.Clock = *p.Clock
	}
	return c
}

// ParseCameraSpec reads the -camera flag syntax:
//
//	name[,max=2][,hang][,slow=2s][,drop=5s][,refuse][,mode=motion|static|pattern][,fps=N][,codec=mjpeg|h264][,gop=2s][,clock]
func ParseCameraSpec(spec string) (Camera, error) {
	parts := strings.Split(spec, ",")
	c := Camera{Name: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		key, val, hasVal := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch key {
		case "max", "max_connections":
			c.MaxConnections, err = strconv.Atoi(val)
		case "hang":
			c.Hang, err = optBool(val, hasVal)
		case "refuse":
			c.Refuse, err = optBool(val, hasVal)
		case "slow":
			c.Slow, err = parseDuration(val)
		case "drop":
			c.Drop, err = parseDuration(val)
		case "mode":
			c.Mode = Mode(val)
		case "fps":
			c.FPS, err = strconv.Atoi(val)
		case "codec":
			c.Codec = Codec(val)
		case "gop":
			c.GOP, err = parseDuration(val)
		case "clock":
			c.Clock, err = optBool(val, hasVal)
		default:
			return Camera{}, fmt.Errorf("camera spec %q: unknown option %q (want max, hang, slow, drop, refuse, mode, fps, codec, gop, clock)", spec, key)
		}
		if err != nil {
			return Camera{}, fmt.Errorf("camera spec %q: option %s: %w", spec, key, err)
		}
	}
	if err := c.Validate(); err != nil {
		return Camera{}, fmt.Errorf("camera spec %q: %w", spec, err)
	}
	return c, nil
}

func optBool(val string, hasVal bool) (bool, error) {
	if !hasVal {
		return true, nil
	}
	return strconv.ParseBool(val)
}

func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	return Duration(d), err
}

// Options configure a Server. The zero value serves RTSP on an ephemeral
// loopback port, without the HTTP control API, credentials or cameras.
type Options struct {
	// RTSPAddr is where RTSP is served; empty means "127.0.0.1:0".
	RTSPAddr string
	// HTTPAddr is where the stats and control API is served; empty means
	// no HTTP listener (Handler still serves it).
	HTTPAddr string
	// AllowRemote permits non-loopback listen addresses.
	AllowRemote bool
	// User and Pass, when User is set, make every request need Basic or
	// Digest (MD5) authentication.
	User, Pass string
	// Auth is the schemes offered and accepted: AuthBoth (the zero value),
	// AuthBasic or AuthDigest.
	Auth Auth
	// Width and Height of every picture: multiples of 16 from 32 to 2032;
	// zero means DefaultWidth x DefaultHeight.
	Width, Height int
	// FPS for cameras that do not set their own; zero means DefaultFPS.
	FPS int
	// Quality is the JPEG quality 1..100; zero means DefaultQuality.
	Quality int
	// Codec of cameras that do not set their own; empty means CodecMJPEG.
	Codec Codec
	// FFmpeg is the ffmpeg executable that encodes the H.264 loops (with
	// libx264); empty means "ffmpeg" from PATH. Only H.264 cameras need it.
	FFmpeg string
	// FirstFrameBytes pads the first frame of every connection with JPEG
	// fill bytes to at least this size, so that ffmpeg -probesize 32768
	// finishes probing after one frame as it does with real cameras, whose
	// frames are that large; later frames are not padded. Zero means
	// DefaultFirstFrameBytes; negative disables padding.
	FirstFrameBytes int
	// Cameras to serve from the start.
	Cameras []Camera
	// Logger receives one line per event worth reading; nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.RTSPAddr == "" {
		o.RTSPAddr = "127.0.0.1:0"
	}
	if o.Width == 0 && o.Height == 0 {
		o.Width, o.Height = DefaultWidth, DefaultHeight
	}
	if o.FPS == 0 {
		o.FPS = DefaultFPS
	}
	if o.Quality == 0 {
		o.Quality = DefaultQuality
	}
	if o.Codec == "" {
		o.Codec = CodecMJPEG
	}
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.FirstFrameBytes == 0 {
		o.FirstFrameBytes = DefaultFirstFrameBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	for _, side := range []int{o.Width, o.Height} {
		if side%16 != 0 || side < minSide || side > maxSide {
			return fmt.Errorf("picture size %dx%d: each side must be a multiple of 16 from %d to %d", o.Width, o.Height, minSide, maxSide)
		}
	}
	if o.FPS < 1 || o.FPS > maxFPS {
		return fmt.Errorf("fps %d is outside 1..%d", o.FPS, maxFPS)
	}
	if o.Quality < 1 || o.Quality > 100 {
		return fmt.Errorf("jpeg quality %d is outside 1..100", o.Quality)
	}
	if !o.Codec.valid() {
		return fmt.Errorf("codec %q is not mjpeg or h264", o.Codec)
	}
	if o.FirstFrameBytes > 1<<20 {
		return fmt.Errorf("first frame padding %d is over 1 MiB", o.FirstFrameBytes)
	}
	if o.Auth != AuthBoth && o.Auth != AuthBasic && o.Auth != AuthDigest {
		return fmt.Errorf("auth %q is not basic or digest (or empty: both)", o.Auth)
	}
	if o.Pass != "" && o.User == "" {
		return errors.New("a password without a user name")
	}
	return nil
}
