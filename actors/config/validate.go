package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"camvisor/actors/redact"
)

// idPattern is what camera ids and subnet names may contain: they become
// actor names, go2rtc stream names and URL path segments.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// streamNamePattern is a go2rtc stream name camvisor can put in a query
// (frame.jpeg?src=, stream.html?src=) and a log line as it is.
var streamNamePattern = regexp.MustCompile(`^[^\s/?#&%]{1,128}$`)

// Validate reports the first problem, naming the field path and the value.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add(fmt.Errorf("listen: %q is not host:port", c.Listen))
	}
	if strings.TrimSpace(c.DB) == "" {
		add(errors.New("db: must name a file"))
	}
	if c.FFmpeg.Path == "" || strings.HasPrefix(c.FFmpeg.Path, "-") {
		add(fmt.Errorf("ffmpeg.path: %q is not a program path", c.FFmpeg.Path))
	}
	add(c.FFmpeg.CaptureTimeout.check("ffmpeg.capture_timeout"))
	add(c.FFmpeg.KillGrace.check("ffmpeg.kill_grace"))
	add(c.FFmpeg.RTSPTimeout.check("ffmpeg.rtsp_timeout"))
	if c.FFmpeg.Retries != nil && *c.FFmpeg.Retries < 0 {
		add(fmt.Errorf("ffmpeg.retries: must be 0 or more, got %d", *c.FFmpeg.Retries))
	}
	if err := c.FFmpeg.StallTimeout.checkOptional("ffmpeg.stall_timeout"); err != nil {
		add(err)
	} else if d := c.FFmpeg.StallTimeout.Duration; d > 0 && d < MinStallTimeout {
		add(fmt.Errorf("ffmpeg.stall_timeout: must be 0 (three keyframe intervals, at least %s) or at least %s, got %s", DefaultStallMin, MinStallTimeout, d))
	}
	add(c.Patrol.StreamBelow.checkOptional("patrol.stream_below"))
	add(c.Record.Retention.check("record.retention"))
	add(c.Record.SampleInterval.check("record.sample_interval"))
	if c.Record.QueueRows < 1 {
		add(fmt.Errorf("record.queue_rows: must be at least 1, got %d", c.Record.QueueRows))
	}

	if c.Go2RTC.Enabled() {
		add(checkHTTPURL("go2rtc.url", c.Go2RTC.URL, false))
	}
	if c.Go2RTC.PlayerURL != "" {
		add(checkHTTPURL("go2rtc.player_url", c.Go2RTC.PlayerURL, false))
	}
	add(c.Go2RTC.Lease.check("go2rtc.lease"))
	add(c.Go2RTC.RequestTimeout.check("go2rtc.request_timeout"))

	switch c.Detector.Kind {
	case "motion":
		if c.Detector.URL != "" {
			add(fmt.Errorf("detector.url: %q is set but detector.kind is motion, which needs no server", redact.URL(c.Detector.URL)))
		}
	case "http":
		add(checkHTTPURL("detector.url", c.Detector.URL, true))
	case "off":
	default:
		add(fmt.Errorf("detector.kind: %q must be motion, http or off", c.Detector.Kind))
	}
	add(checkScore("detector.min_score", c.Detector.MinScore))
	add(c.Detector.Timeout.check("detector.timeout"))
	add(c.Detector.EventGap.check("detector.event_gap"))
	if c.Detector.Queue < 1 {
		add(fmt.Errorf("detector.queue: must be at least 1, got %d", c.Detector.Queue))
	}
	add(checkLabels("detector.labels", c.Detector.Labels))
	add(checkScore("playback.min_score", c.Playback.MinScore))
	add(c.Playback.Cooldown.check("playback.cooldown"))
	add(checkLabels("playback.labels", c.Playback.Labels))
	if c.Playback.MaxLive < 1 {
		add(fmt.Errorf("playback.max_live: must be at least 1, got %d", c.Playback.MaxLive))
	}

	if t := c.Auth.Token; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		add(fmt.Errorf("auth.token: must be at least 16 characters without spaces (got %d characters)", len(t)))
	}
	for i, h := range c.Web.AllowedHosts {
		add(checkHost(fmt.Sprintf("web.allowed_hosts[%d]", i), h))
	}

	add(c.Reaper.Interval.check("reaper.interval"))
	if c.Alerts.CameraBusyAfter < 1 {
		add(fmt.Errorf("alerts.camera_busy_after: must be at least 1, got %d", c.Alerts.CameraBusyAfter))
	}
	add(c.Patrol.MaxBackoff.check("patrol.max_backoff"))
	if c.Alerts.CameraFailingAfter < 1 {
		add(fmt.Errorf("alerts.camera_failing_after: must be at least 1, got %d", c.Alerts.CameraFailingAfter))
	}
	if c.Alerts.Webhook.URL != "" {
		add(checkHTTPURL("alerts.webhook.url", c.Alerts.Webhook.URL, true))
	}
	add(c.Alerts.Webhook.Timeout.check("alerts.webhook.timeout"))
	switch c.Alerts.Webhook.Format {
	case FormatCamvisor, FormatAlertmanager:
	default:
		add(fmt.Errorf("alerts.webhook.format: %q must be camvisor or alertmanager", c.Alerts.Webhook.Format))
	}
	if c.Alerts.Webhook.MaxAttempts < 1 {
		add(fmt.Errorf("alerts.webhook.max_attempts: must be at least 1, got %d", c.Alerts.Webhook.MaxAttempts))
	}

	for _, err := range c.Cluster.validate(c.Listen, c.FFmpeg.KillGrace.Duration) {
		add(err)
	}
	add(c.MQTT.check())

	if len(c.Subnets) == 0 {
		add(errors.New("subnets: at least one subnet is needed"))
	}
	subnets := map[string]string{}
	cameras := map[string]string{}
	names := map[string]string{}
	declared := map[string]string{} // go2rtc stream → the camera field that names it
	for i, s := range c.Subnets {
		at := fmt.Sprintf("subnets[%d]", i)
		if !idPattern.MatchString(s.Name) {
			add(fmt.Errorf("%s.name: %q must be 1-64 letters, digits, '.', '_' or '-'", at, s.Name))
		} else if prev, dup := subnets[s.Name]; dup {
			add(fmt.Errorf("%s.name: %q is already the name of %s", at, s.Name, prev))
		} else {
			subnets[s.Name] = at
		}
		add(s.Interval.check(at + ".interval"))
		if s.Concurrency < 1 {
			add(fmt.Errorf("%s.concurrency: must be at least 1, got %d", at, s.Concurrency))
		}
		switch s.Via {
		case "", ViaFFmpeg:
		case ViaGo2RTC, ViaAuto:
			if !c.Go2RTC.Enabled() {
				add(fmt.Errorf("%s.via: %q needs go2rtc.url to be set", at, s.Via))
			}
		default:
			add(fmt.Errorf("%s.via: %q must be ffmpeg, go2rtc or auto", at, s.Via))
		}
		if len(s.Cameras) == 0 {
			add(fmt.Errorf("%s.cameras: subnet %q has no camera", at, s.Name))
		}
		for j, cam := range s.Cameras {
			cat := fmt.Sprintf("%s.cameras[%d]", at, j)
			if !idPattern.MatchString(cam.ID) {
				add(fmt.Errorf("%s.id: %q must be 1-64 letters, digits, '.', '_' or '-'", cat, cam.ID))
			} else if prev, dup := cameras[cam.ID]; dup {
				add(fmt.Errorf("%s.id: duplicate camera id %q (also %s)", cat, cam.ID, prev))
			} else {
				cameras[cam.ID] = cat
			}
			add(checkURL(cat+".url", cam.URL))
			if cam.MaxConnections < 1 {
				add(fmt.Errorf("%s.max_connections: must be at least 1, got %d", cat, cam.MaxConnections))
			}
			if cam.Queue < 0 {
				add(fmt.Errorf("%s.queue: must be 0 or more, got %d", cat, cam.Queue))
			}
			if cam.SnapshotURL != "" {
				add(checkHTTPURL(cat+".snapshot_url", cam.SnapshotURL, true))
			}
			if cam.DetectURL != "" {
				add(checkURL(cat+".detect_url", cam.DetectURL))
			}
			add(checkInputArgs(cat+".input_args", cam.InputArgs, relayed(cam.URL) || relayed(cam.DetectURL)))
			if cam.HWAccel != "" && !slices.Contains(hwaccels, cam.HWAccel) {
				add(fmt.Errorf("%s.hwaccel: %q must be one of %s", cat, cam.HWAccel, strings.Join(hwaccels, ", ")))
			}
			for k, name := range cam.Go2RTCStreams {
				field := fmt.Sprintf("%s.go2rtc_streams[%d]", cat, k)
				switch prev, dup := declared[name]; {
				case !c.Go2RTC.Enabled():
					add(fmt.Errorf("%s: %q needs go2rtc.url to be set", field, name))
				case !streamNamePattern.MatchString(name):
					add(fmt.Errorf("%s: %q must be a go2rtc stream name: 1-128 characters, no white space, '/', '?', '#', '&' or '%%'", field, name))
				case strings.HasPrefix(name, "camvisor_"):
					add(fmt.Errorf("%s: %q is a name camvisor gives its own streams; name a stream of go2rtc's config", field, name))
				case dup:
					add(fmt.Errorf("%s: %q is named by %s too: a stream reads one camera", field, name, prev))
				default:
					declared[name] = field
				}
			}
			switch cam.Mode {
			case "", ModeSnapshot:
			case ModeStream:
				if cam.SnapshotURL != "" {
					add(fmt.Errorf("%s.mode: stream cannot go with snapshot_url %s: its frames come over HTTP, with no RTSP connection to keep open; remove one of them", cat, redact.URL(cam.SnapshotURL)))
				}
			default:
				add(fmt.Errorf("%s.mode: %q must be snapshot or stream", cat, cam.Mode))
			}
			if cam.Name != "" {
				if err := checkName(cat+".name", cam.Name); err != nil {
					add(err)
				} else if prev, dup := names[cam.Name]; dup {
					add(fmt.Errorf("%s.name: %q is already the name of %s", cat, cam.Name, prev))
				} else {
					names[cam.Name] = cat
				}
			}
			for _, err := range checkMotion(cat+".motion", cam.Motion) {
				add(err)
			}
			if !cam.Motion.IsZero() && c.Detector.Kind != "motion" {
				add(fmt.Errorf("%s.motion: set, but detector.kind is %q: these settings are the built-in motion detector's (detector.kind: motion)", cat, c.Detector.Kind))
			}
		}
	}
	return errors.Join(errs...)
}

// MaxURLLength bounds every URL in the config. A camera's URL ends up on
// a command line (its path, through the relay), where one argument may not
// exceed 128 KiB; no real camera or service needs more than a few hundred
// bytes.
const MaxURLLength = 2048

// encodeHint tells how to write what a URL parser would misread.
const encodeHint = "percent-encode it: '/' as %2F, '?' as %3F, '#' as %23, '@' as %40, '%' as %25 " +
	"(a password a/b@c is written a%2Fb%40c)"

// checkURL accepts only rtsp:// and rtsps:// URLs with a host that ffmpeg
// and the relay read as the operator meant; anything else could be read by
// ffmpeg as an option or a local file, or send the password to another
// host.
func checkURL(field, raw string) error {
	if err := checkWritten(field, raw); err != nil {
		return err
	}
	shown := redact.URL(raw)
	if strings.HasPrefix(raw, "-") {
		return fmt.Errorf("%s: %q must not start with '-'", field, shown)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %q is not a URL (%s); if the user or password holds a reserved character, %s", field, shown, parseReason(err), encodeHint)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("%s: scheme must be rtsp or rtsps, got %q in %q", field, u.Scheme, shown)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s: %q has no host", field, shown)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("%s: %q has a '#', which RTSP does not send; if it belongs to the password, %s", field, shown, encodeHint)
	}
	return nil
}

// checkWritten refuses what no parser reads as meant: a URL too long for
// a command line, white space, and a user or password with an unencoded
// '/', '?', '#' or '@' (the host would be read from inside the password,
// and part of the password shown as its path).
func checkWritten(field, raw string) error {
	if len(raw) > MaxURLLength {
		return fmt.Errorf("%s: a URL of %d bytes (%q…) is longer than %d bytes, more than any camera or service needs: check what was pasted",
			field, len(raw), redact.Text(raw[:min(len(raw), 40)]), MaxURLLength)
	}
	shown := redact.URL(raw)
	if strings.ContainsAny(raw, " \t\r\n") {
		return fmt.Errorf("%s: %q contains white space", field, shown)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" {
		return nil // the scheme check names the problem
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 && strings.Contains(rest[i:], "@") {
		return fmt.Errorf("%s: %q has an '@' after its host: its user or password holds a '/', '?', '#' or '@' that is not encoded; %s", field, shown, encodeHint)
	}
	return nil
}

// parseReason is url.Parse's complaint without the URL it quotes.
func parseReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	// Its message quotes what it could not read: maybe part of a password.
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// checkHTTPURL accepts http:// and https:// URLs with a host, and a path
// only when the URL names an endpoint rather than a server's base.
func checkHTTPURL(field, raw string, endpoint bool) error {
	if err := checkWritten(field, raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q must be an http:// or https:// URL with a host", field, shown(field, raw))
	}
	if !endpoint && u.Path != "" && u.Path != "/" {
		return fmt.Errorf("%s: %q must not have a path: give go2rtc's base URL", field, shown(field, raw))
	}
	return nil
}

// shown is a URL of field as an error shows it: without its password and
// query values, and the webhook's without its path (Slack, Discord and
// ntfy put the secret there).
func shown(field, raw string) string {
	if field == "alerts.webhook.url" {
		return redact.Hidden(raw)
	}
	return redact.URL(raw)
}

// checkHost reports an allowed host that is not a host name with an
// optional port, as a Host header names it.
func checkHost(field, h string) error {
	name, port, err := net.SplitHostPort(h)
	if err != nil {
		name, port = h, ""
	}
	if name == "" || strings.ContainsAny(h, "/@?#* \t") {
		return fmt.Errorf("%s: %q must be a host name with an optional port (camvisor.example.org or camvisor.example.org:443), not a URL", field, h)
	}
	if _, err := strconv.ParseUint(port, 10, 16); port != "" && err != nil {
		return fmt.Errorf("%s: %q has no valid port", field, h)
	}
	return nil
}

// check validates the mqtt section: a broker URL camvisor can dial as
// written, a prefix that is a plain topic, and credentials given one way.
func (m MQTT) check() error {
	var errs []error
	if m.URL != "" {
		errs = append(errs, checkMQTTURL("mqtt.url", m.URL))
	}
	if m.Password != "" && m.Username == "" {
		errs = append(errs, errors.New("mqtt.password: set without mqtt.username (MQTT sends a password only with a user name)"))
	}
	p := m.TopicPrefix
	switch {
	case p == "":
		errs = append(errs, errors.New(`mqtt.topic_prefix: must not be empty (the default is "camvisor")`))
	case strings.ContainsAny(p, "+#\x00") || strings.HasPrefix(p, "$") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") ||
		strings.Contains(p, "//") || len(p) > 128 || strings.ContainsAny(p, " \t\r\n"):
		errs = append(errs, fmt.Errorf("mqtt.topic_prefix: %q must be a topic such as camvisor or home/cameras: no +, #, spaces or empty levels, "+
			"not starting with $ or /, not ending with /, at most 128 bytes", p))
	}
	if !m.Enabled() && (m.Discovery || m.Commands) {
		errs = append(errs, errors.New("mqtt.url: discovery or commands is set but no broker is (mqtt.url is empty)"))
	}
	return errors.Join(errs...)
}

// checkMQTTURL accepts mqtt:// and mqtts:// URLs with a host and nothing
// after it: credentials go in mqtt.username and mqtt.password.
func checkMQTTURL(field, raw string) error {
	if err := checkWritten(field, raw); err != nil {
		return err
	}
	shown := redact.URL(raw)
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %q is not a URL (%s)", field, shown, parseReason(err))
	case u.Scheme != "mqtt" && u.Scheme != "mqtts":
		return fmt.Errorf("%s: scheme must be mqtt or mqtts (TLS), got %q in %q", field, u.Scheme, shown)
	case u.Hostname() == "":
		return fmt.Errorf("%s: %q has no host", field, shown)
	case u.User != nil:
		return fmt.Errorf("%s: %q holds credentials: write them in mqtt.username and mqtt.password (${MQTT_PASSWORD})", field, shown)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%s: %q must be mqtt://host:port or mqtts://host:port, with nothing after the port", field, shown)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s: %q has port %q, not 1-65535", field, shown, p)
		}
	}
	return nil
}

// hwaccels are ffmpeg's -hwaccel methods (ffmpeg -hwaccels).
var hwaccels = []string{"auto", "vaapi", "cuda", "qsv", "vdpau", "drm", "opencl", "vulkan", "videotoolbox", "d3d11va", "dxva2"}

// relayed reports whether ffmpeg reads raw through camvisor's RTSP relay:
// every camera URL is (actors/rtsprelay), so that no secret goes on a
// command line and no redirect of the camera's reaches past the relay.
func relayed(raw string) bool { return raw != "" }

// checkInputArgs refuses what would make ffmpeg read something else than
// the camera: another input, or an argument that is not one. Through the
// relay, RTP is carried on the RTSP connection (TCP) only.
func checkInputArgs(field string, args []string, relay bool) error {
	for i, a := range args {
		switch {
		case relay && a == "-rtsp_transport" && i+1 < len(args) && args[i+1] != "tcp":
			return fmt.Errorf("%s[%d]: -rtsp_transport %s: ffmpeg reads every camera through camvisor's relay, "+
				"which carries the video on the RTSP connection (tcp) only", field, i+1, args[i+1])
		case a == "":
			return fmt.Errorf("%s[%d]: empty argument", field, i)
		case strings.ContainsAny(a, "\r\n\x00"):
			return fmt.Errorf("%s[%d]: %q contains a line break", field, i, redact.Text(a))
		case a == "-i" || a == "-f" && i+1 < len(args) && args[i+1] == "concat":
			return fmt.Errorf("%s[%d]: %q would add an input: the camera's url is the only one", field, i, a)
		}
	}
	return nil
}

func checkScore(field string, v float64) error {
	if v < 0 || v > 1 || v != v {
		return fmt.Errorf("%s: must be between 0 and 1, got %v", field, v)
	}
	return nil
}

func checkLabels(field string, labels []string) error {
	for i, l := range labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("%s[%d]: empty label", field, i)
		}
	}
	return nil
}

// MaxNameLength bounds a camera's display name, in characters.
const MaxNameLength = 64

// checkName accepts a display name in any script: at most MaxNameLength
// characters, no control characters, not only spaces, no spaces around it.
func checkName(field, name string) error {
	switch {
	case !utf8.ValidString(name):
		return fmt.Errorf("%s: %q is not valid UTF-8", field, name)
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Errorf("%s: %q has %d characters, at most %d are allowed", field, name, utf8.RuneCountInString(name), MaxNameLength)
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%s: %q is only spaces: write a name or leave it out (the id is shown)", field, name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%s: %q begins or ends with a space", field, name)
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%s: %q holds a control character (%U)", field, name, r)
		}
	}
	return nil
}

// checkMotion reports every motion setting out of range, naming the field
// and its value.
func checkMotion(field string, m Motion) []error {
	var errs []error
	if m.Threshold < 0 || m.Threshold > 255 {
		errs = append(errs, fmt.Errorf("%s.threshold: must be from 1 to 255 (a change of brightness; 0 or unset: the default), got %d", field, m.Threshold))
	}
	if m.MinArea < 0 || m.MinArea > 1 || m.MinArea != m.MinArea {
		errs = append(errs, fmt.Errorf("%s.min_area: must be a share of the picture above 0 and at most 1 (0.002 is 0.2 %%; 0 or unset: the default), got %v", field, m.MinArea))
	}
	for i, poly := range m.Masks {
		at := fmt.Sprintf("%s.masks[%d]", field, i)
		switch {
		case len(poly)%2 != 0:
			errs = append(errs, fmt.Errorf("%s: %d numbers; a polygon is pairs of x, y: [x1, y1, x2, y2, x3, y3, ...]", at, len(poly)))
			continue
		case len(poly) < 6:
			errs = append(errs, fmt.Errorf("%s: %d numbers make %d points; a polygon needs at least 3 (6 numbers)", at, len(poly), len(poly)/2))
			continue
		}
		for j, v := range poly {
			if v < 0 || v > 1 || v != v {
				axis := "x"
				if j%2 == 1 {
					axis = "y"
				}
				errs = append(errs, fmt.Errorf("%s[%d]: %s %v is outside the picture: coordinates are relative, from 0 to 1", at, j, axis, v))
				break
			}
		}
	}
	return errs
}
