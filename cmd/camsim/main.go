// Command camsim simulates RTSP IP cameras for camvisor's tests: many
// cameras on one port, each counting its own connections and showing
// configurable faults (connection limit, hang, slow answers, dropped
// streams, refused connections), in MJPEG or H.264. See package
// camvisor/actors/camsim.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"camvisor/actors/camsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// errUsage marks errors the flag package has already reported.
var errUsage = errors.New("usage")

// config is what the command line asks for.
type config struct {
	opts    camsim.Options
	cameras []camsim.Camera
	count   int
	file    string
	verbose bool
}

// parseFlags reads the command line. Errors name the flag and value.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{opts: camsim.Options{Width: camsim.DefaultWidth, Height: camsim.DefaultHeight}}
	fs := flag.NewFlagSet("camsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package reports a bad flag and then calls Usage; the full
	// text is printed only for -help, so the error stays visible.
	fs.Usage = func() {}
	printHelp := func() {
		fmt.Fprint(fs.Output(), `Usage: camsim [flags]

camsim serves simulated RTSP cameras (RTP/JPEG or RTP H.264 over TCP) at
rtsp://RTSP-ADDR/<name> and their connection counts at http://HTTP-ADDR/stats.
It prints each camera's URL and the stats address, then runs until SIGINT or
SIGTERM. With no -camera, -cameras or -config it serves one camera, cam1.

Camera spec (-camera, repeatable):
  name[,max=N][,hang][,slow=DUR][,drop=DUR][,refuse][,mode=pattern|motion|static][,fps=N]
      [,codec=mjpeg|h264][,gop=DUR][,clock]
    max=N     at most N open connections; the next gets 453 Not Enough Bandwidth
    hang      accept and read requests, never answer (set at run time through
              the HTTP API, open connections stop sending frames too)
    slow=DUR  answer each request after DUR (e.g. 2s)
    drop=DUR  close the connection DUR after PLAY
    refuse    reset the connection after its first request line (camera down;
              one port serves every camera, so "nothing listening" looks like
              "connection reset by peer")
    mode      pattern (moving bars, name, clock), motion (still scene, moving
              square), static (identical frames)
    codec     mjpeg (RTP/JPEG: every frame a whole picture) or h264 (RTP H.264,
              RFC 6184: a keyframe every GOP, SPS/PPS in the SDP); default -codec
    gop=DUR   keyframe interval of an h264 camera (default 2s, at most 20s).
              H.264 pictures are a loop encoded once at start-up with ffmpeg
              (libx264), shared by the cameras with the same mode, fps and gop:
              their top band names the codec instead of the camera, no clock
    clock     burn a large timestamp into a motion or static picture (top left,
              changing every second), as real cameras do: what motion masks
              are for (mjpeg only)

-config FILE is JSON: {"cameras":[{"name":"cam1","max_connections":2,"hang":false,
  "slow":"2s","drop":"5s","refuse":false,"mode":"motion","fps":5,"codec":"h264","gop":"1s","clock":false}]}

HTTP API: GET /stats[?camera=N], POST /stats/reset[?camera=N],
  GET /cameras, GET|POST|DELETE /cameras/{name} (POST body: the fields to change).

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.opts.RTSPAddr, "rtsp", "127.0.0.1:8554", "RTSP listen `address`")
	fs.StringVar(&cfg.opts.HTTPAddr, "http", "127.0.0.1:8555", "stats and control API listen `address`; empty disables it")
	fs.BoolVar(&cfg.opts.AllowRemote, "allow-remote", false, "allow listening on non-loopback addresses")
	fs.StringVar(&cfg.opts.User, "user", "", "require this user name (RTSP Basic or Digest auth)")
	fs.StringVar(&cfg.opts.Pass, "pass", "", "password for -user")
	fs.Func("auth", "`scheme` offered with -user: basic or digest (default both, Digest first)", func(v string) error {
		switch a := camsim.Auth(v); a {
		case camsim.AuthBasic, camsim.AuthDigest:
			cfg.opts.Auth = a
			return nil
		}
		return errors.New("want basic or digest")
	})
	fs.Func("size", "picture `WxH`, multiples of 16 (default 320x240)", func(v string) error {
		w, h, ok := strings.Cut(v, "x")
		wi, err1 := strconv.Atoi(w)
		hi, err2 := strconv.Atoi(h)
		if !ok || err1 != nil || err2 != nil || wi%16 != 0 || hi%16 != 0 || wi < 32 || hi < 32 || wi > 2032 || hi > 2032 {
			return errors.New("want WxH with multiples of 16 from 32 to 2032, e.g. 320x240")
		}
		cfg.opts.Width, cfg.opts.Height = wi, hi
		return nil
	})
	fs.IntVar(&cfg.opts.FPS, "fps", camsim.DefaultFPS, "frames per second of cameras that do not set fps")
	fs.IntVar(&cfg.opts.Quality, "quality", camsim.DefaultQuality, "JPEG quality 1..100 (H.264 cameras get a matching x264 CRF)")
	fs.Func("codec", "`codec` of cameras that do not set one: mjpeg or h264 (default mjpeg)", func(v string) error {
		switch c := camsim.Codec(v); c {
		case camsim.CodecMJPEG, camsim.CodecH264:
			cfg.opts.Codec = c
			return nil
		}
		return errors.New("want mjpeg or h264")
	})
	fs.StringVar(&cfg.opts.FFmpeg, "ffmpeg", "ffmpeg", "ffmpeg `program` that encodes the H.264 loops (needs libx264)")
	fs.Func("camera", "add a camera: `spec` as above (repeatable)", func(v string) error {
		c, err := camsim.ParseCameraSpec(v)
		if err != nil {
			return err
		}
		cfg.cameras = append(cfg.cameras, c)
		return nil
	})
	fs.IntVar(&cfg.count, "cameras", 0, "add `N` plain cameras cam0001..camN")
	fs.StringVar(&cfg.file, "config", "", "JSON `file` of cameras")
	fs.BoolVar(&cfg.verbose, "v", false, "log every connection")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp()
			return nil, err
		}
		fmt.Fprintln(stderr, "run camsim -help for usage")
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "camsim: unexpected argument %q\n", fs.Arg(0))
		return nil, errUsage
	}
	if cfg.count < 0 || cfg.count > 99999 {
		fmt.Fprintf(stderr, "invalid value \"%d\" for flag -cameras: want 0..99999\n", cfg.count)
		return nil, errUsage
	}
	if cfg.opts.FPS < 1 || cfg.opts.FPS > 60 {
		fmt.Fprintf(stderr, "invalid value \"%d\" for flag -fps: want 1..60\n", cfg.opts.FPS)
		return nil, errUsage
	}
	if cfg.opts.Quality < 1 || cfg.opts.Quality > 100 {
		fmt.Fprintf(stderr, "invalid value \"%d\" for flag -quality: want 1..100\n", cfg.opts.Quality)
		return nil, errUsage
	}
	return cfg, nil
}

// configFile is the JSON form of -config.
type configFile struct {
	Cameras []camsim.Camera `json:"cameras"`
}

// allCameras gathers -config, -camera and -cameras, in that order.
func (cfg *config) allCameras() ([]camsim.Camera, error) {
	var cams []camsim.Camera
	if cfg.file != "" {
		b, err := os.ReadFile(cfg.file)
		if err != nil {
			return nil, fmt.Errorf("flag -config: %w", err)
		}
		var f configFile
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return nil, fmt.Errorf("flag -config %s: %w", cfg.file, err)
		}
		for _, c := range f.Cameras {
			if err := c.Validate(); err != nil {
				return nil, fmt.Errorf("flag -config %s: %w", cfg.file, err)
			}
		}
		cams = append(cams, f.Cameras...)
	}
	cams = append(cams, cfg.cameras...)
	for i := 1; i <= cfg.count; i++ {
		cams = append(cams, camsim.Camera{Name: fmt.Sprintf("cam%04d", i)})
	}
	if len(cams) == 0 {
		cams = append(cams, camsim.Camera{Name: "cam1"})
	}
	seen := map[string]bool{}
	for _, c := range cams {
		if seen[c.Name] {
			return nil, fmt.Errorf("camera %s is defined twice", c.Name)
		}
		seen[c.Name] = true
	}
	return cams, nil
}

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cams, err := cfg.allCameras()
	if err != nil {
		return fmt.Errorf("camsim: %w", err)
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	opts := cfg.opts
	opts.Cameras = cams
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := camsim.New(opts)
	if err != nil {
		return err
	}
	for _, c := range cams {
		fmt.Fprintf(stdout, "camera %s %s\n", c.Name, srv.URL(c.Name))
	}
	if a := srv.HTTPAddr(); a != "" {
		fmt.Fprintf(stdout, "stats http://%s/stats\n", a)
	}
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return srv.Close()
}
