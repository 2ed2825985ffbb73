package camsim

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// H.264 cameras stream a pre-rendered loop: its frames are drawn here,
// encoded once by ffmpeg with libx264 (one run per picture mode, frame rate
// and GOP, shared by every camera with those settings), split into access
// units and cut into RTP packets once. Serving a frame then costs what an
// MJPEG frame costs: the connection patches sequence number, timestamp and
// SSRC. Loops cannot carry a per-camera name or a live clock, so the band
// across the top of an H.264 picture names the codec and GOP instead.

// h264Key is what an encoded loop depends on besides the server's picture
// size.
type h264Key struct {
	mode      Mode
	fps       int
	gopFrames int
}

// h264Loop is one encoded loop: frames[i] is access unit i, each a
// picture with its RTP packets, a keyframe every gopFrames.
type h264Loop struct {
	frames   []*picture
	sps, pps []byte
	// still is the picture every frame of a static loop shows, as drawn
	// before encoding; nil for moving modes.
	still *image.RGBA
}

// h264Entry is a loop being encoded or encoded: ready is closed when loop
// or err is set.
type h264Entry struct {
	ready chan struct{}
	loop  *h264Loop
	err   error
}

// encodeTimeout bounds one loop's encoding: even a 2032x2032 loop of a
// 20 s GOP at 60 fps encodes in far less on one core.
const encodeTimeout = 2 * time.Minute

// NAL unit types camsim reads or writes (ITU-T H.264 table 7-1; RFC 6184).
const (
	nalSlice = 1
	nalIDR   = 5
	nalSEI   = 6
	nalSPS   = 7
	nalPPS   = 8
	nalAUD   = 9
	nalSTAPA = 24
	nalFUA   = 28
)

// h264Loop returns the loop for key, encoding it on first use; callers
// that arrive meanwhile wait for the same encoding.
func (l *library) h264Loop(key h264Key) (*h264Loop, error) {
	l.h264Mu.Lock()
	e := l.h264[key]
	if e == nil {
		if l.h264 == nil {
			l.h264 = make(map[h264Key]*h264Entry)
		}
		e = &h264Entry{ready: make(chan struct{})}
		l.h264[key] = e
		l.h264Mu.Unlock()
		e.loop, e.err = l.encodeH264(key)
		close(e.ready)
		return e.loop, e.err
	}
	l.h264Mu.Unlock()
	<-e.ready
	return e.loop, e.err
}

// loopLength is how many frames key's loop has: whole GOPs, at least one
// period of the mode's motion, so that the loop restarts on a keyframe.
func loopLength(key h264Key) int {
	period := 1
	switch key.mode {
	case ModePattern:
		period = patternFrames
	case ModeMotion:
		period = motionFrames
	}
	gops := (period + key.gopFrames - 1) / key.gopFrames
	return gops * key.gopFrames
}

// h264Label is the text of an H.264 picture's top band.
func h264Label(key h264Key) string {
	gop := time.Duration(key.gopFrames) * time.Second / time.Duration(key.fps)
	return fmt.Sprintf("H.264 GOP %v %d FPS", gop, key.fps)
}

// drawLoopFrame paints frame k of mode's loop: the mode's picture under a
// band showing label.
func (l *library) drawLoopFrame(img *image.RGBA, mode Mode, k int, label string) {
	switch mode {
	case ModeStatic:
		l.drawBackground(img)
	case ModeMotion:
		l.drawBackground(img)
		l.drawSquare(img, k%motionFrames)
	default:
		l.drawPattern(img, (k%patternFrames)*patternStep)
	}
	drawBand(img, nameRow*mcuSide, label)
}

// encodeH264 draws key's loop and encodes it with ffmpeg and libx264.
func (l *library) encodeH264(key h264Key) (*h264Loop, error) {
	n := loopLength(key)
	ctx, cancel := context.WithTimeout(context.Background(), encodeTimeout)
	defer cancel()
	g := strconv.Itoa(key.gopFrames)
	args := []string{"-hide_banner", "-loglevel", "error",
		"-f", "rawvideo", "-pix_fmt", "rgba", "-s", fmt.Sprintf("%dx%d", l.w, l.h), "-r", strconv.Itoa(key.fps), "-i", "pipe:0",
		"-an", "-frames:v", strconv.Itoa(n),
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p", "-threads", "1",
		// A keyframe exactly every GOP and nowhere else; no B-frames (as
		// cameras send); SPS and PPS before every keyframe.
		"-g", g, "-keyint_min", g, "-sc_threshold", "0", "-bf", "0",
		"-x264-params", "repeat-headers=1",
		"-crf", strconv.Itoa(crfFor(l.quality)),
		"-f", "h264", "pipe:1"}
	cmd := exec.CommandContext(ctx, l.ffmpeg, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("encode h264 loop: %w", err)
	}
	label := h264Label(key)
	var still *image.RGBA
	done := make(chan error, 1)
	// Started and waited on by one goroutine locked to its thread: the
	// parent-death signal fires when the forking thread exits.
	go func() {
		runtime.LockOSThread()
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			done <- err
			return
		}
		img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
		bw := bufio.NewWriterSize(stdin, len(img.Pix))
		var werr error
		for k := range n {
			l.drawLoopFrame(img, key.mode, k, label)
			if k == 0 && key.mode == ModeStatic {
				still = image.NewRGBA(img.Rect)
				copy(still.Pix, img.Pix)
			}
			if _, werr = bw.Write(img.Pix); werr != nil {
				break
			}
		}
		if werr == nil {
			werr = bw.Flush()
		}
		stdin.Close()
		err := cmd.Wait()
		done <- errors.Join(err, werr)
	}()
	if err := <-done; err != nil {
		return nil, fmt.Errorf("encode h264 loop with %s (libx264): %w: %s", l.ffmpeg, err, bytes.TrimSpace(stderr.Bytes()))
	}
	loop, err := splitLoop(stdout.Bytes(), n, key.gopFrames)
	if err != nil {
		return nil, fmt.Errorf("encode h264 loop: %w", err)
	}
	loop.still = still
	return loop, nil
}

// crfFor maps a JPEG quality to an x264 constant rate factor of about the
// same look: quality 75 gives 23, x264's own default.
func crfFor(quality int) int {
	return min(51, max(0, 23+(75-quality)/4))
}

// splitLoop cuts an Annex B stream into its access units and packetizes
// each, checking that there are n with a keyframe exactly every gop.
func splitLoop(stream []byte, n, gop int) (*h264Loop, error) {
	loop := &h264Loop{}
	var au, pending [][]byte // NAL units of the access unit; parameter sets before its first slice
	flush := func() {
		if len(au) > 0 {
			loop.frames = append(loop.frames, h264Picture(au))
		}
		au = nil
	}
	for _, nal := range splitAnnexB(stream) {
		switch typ := nal[0] & 0x1F; typ {
		case nalSPS, nalPPS:
			if typ == nalSPS && loop.sps == nil {
				loop.sps = nal
			}
			if typ == nalPPS && loop.pps == nil {
				loop.pps = nal
			}
			pending = append(pending, nal)
		case nalSlice, nalIDR:
			// first_mb_in_slice is ue(v): 0 is the single bit 1. A slice
			// that starts the picture starts an access unit.
			if len(nal) > 1 && nal[1]&0x80 != 0 {
				flush()
			}
			au = append(au, pending...)
			pending = nil
			au = append(au, nal)
		default:
			// SEI (x264's banner), AUD and the rest: cameras need not
			// send them, and camsim does not.
		}
	}
	flush()
	if loop.sps == nil || loop.pps == nil {
		return nil, errors.New("no SPS or PPS in the encoder's output")
	}
	if len(loop.frames) != n {
		return nil, fmt.Errorf("%d access units, want %d", len(loop.frames), n)
	}
	for i, f := range loop.frames {
		if f.key != (i%gop == 0) {
			return nil, fmt.Errorf("access unit %d: keyframe %v, want a keyframe every %d frames", i, f.key, gop)
		}
	}
	return loop, nil
}

// splitAnnexB returns the NAL units of an Annex B byte stream, without
// their start codes. They alias b.
func splitAnnexB(b []byte) [][]byte {
	var nals [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				nals = appendNAL(nals, b[start:i])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 {
		nals = appendNAL(nals, b[start:])
	}
	return nals
}

// appendNAL appends nal without the trailing zero bytes that belong to
// the next start code (00 00 00 01).
func appendNAL(nals [][]byte, nal []byte) [][]byte {
	for len(nal) > 0 && nal[len(nal)-1] == 0 {
		nal = nal[:len(nal)-1]
	}
	if len(nal) == 0 {
		return nals
	}
	return append(nals, nal)
}

// h264Picture packetizes one access unit.
func h264Picture(au [][]byte) *picture {
	p := &picture{pkt: packetizeH264(au)}
	for _, nal := range au {
		if nal[0]&0x1F == nalIDR {
			p.key = true
		}
	}
	return p
}

// payloadTypeH264 is the dynamic RTP payload type camsim's SDP maps to
// H264/90000.
const payloadTypeH264 = 96

// packetizeH264 cuts an access unit into RTP packets (RFC 6184,
// packetization-mode 1): a NAL unit that fits is sent whole (single NAL
// unit packet), a larger one in FU-A fragments. The last packet carries
// the marker bit.
func packetizeH264(au [][]byte) *packetized {
	const room = maxRTPPacket - rtpHeaderLen
	size := 0
	for _, nal := range au {
		size += len(nal) + (len(nal)/(room-2)+1)*(interleaveLen+rtpHeaderLen+2)
	}
	p := &packetized{data: make([]byte, 0, size)}
	add := func(last bool, parts ...[]byte) {
		n := rtpHeaderLen
		for _, part := range parts {
			n += len(part)
		}
		d := append(p.data, '$', 0, byte(n>>8), byte(n))
		p.headers = append(p.headers, len(d))
		marker := byte(0)
		if last {
			marker = 0x80
		}
		d = append(d, 0x80, marker|payloadTypeH264, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		for _, part := range parts {
			d = append(d, part...)
		}
		p.data = d
	}
	for i, nal := range au {
		lastNAL := i == len(au)-1
		if len(nal) <= room {
			add(lastNAL, nal)
			continue
		}
		indicator := nal[0]&0xE0 | nalFUA
		typ := nal[0] & 0x1F
		rest := nal[1:]
		for off := 0; off < len(rest); {
			chunk := min(room-2, len(rest)-off)
			hdr := typ
			if off == 0 {
				hdr |= 0x80 // S
			}
			end := off+chunk == len(rest)
			if end {
				hdr |= 0x40 // E
			}
			add(lastNAL && end, []byte{indicator, hdr}, rest[off:off+chunk])
			off += chunk
		}
	}
	return p
}

// profileLevelID is the SDP's profile-level-id: the three bytes after an
// SPS's NAL header, in hex.
func profileLevelID(sps []byte) string {
	if len(sps) < 4 {
		return "42e01f"
	}
	return fmt.Sprintf("%02x%02x%02x", sps[1], sps[2], sps[3])
}

// h264Depacketizer rebuilds access units from RTP H.264 packets (single
// NAL unit, STAP-A and FU-A), as Annex B with 4-byte start codes.
type h264Depacketizer struct {
	au      []byte
	ts      uint32
	started bool
	inFU    bool // a fragmented NAL unit is being rebuilt
	broken  bool // a packet went missing: drop this access unit
	seq     uint16
	haveSeq bool
}

// push takes one RTP packet's payload and header fields and returns an
// access unit when the packet completes one.
func (d *h264Depacketizer) push(seq uint16, ts uint32, marker bool, p []byte) []byte {
	if d.haveSeq && seq != d.seq+1 {
		d.broken = true
	}
	d.seq, d.haveSeq = seq, true
	if d.started && ts != d.ts {
		// The previous access unit lost its last packet.
		d.au, d.inFU, d.broken = d.au[:0], false, false
	}
	if !d.started {
		d.au, d.inFU = d.au[:0], false
	}
	d.started, d.ts = true, ts
	if len(p) > 0 {
		switch typ := p[0] & 0x1F; typ {
		case nalSTAPA:
			for q := p[1:]; len(q) >= 2; {
				n := int(q[0])<<8 | int(q[1])
				if len(q) < 2+n {
					d.broken = true
					break
				}
				d.au = append(append(d.au, 0, 0, 0, 1), q[2:2+n]...)
				q = q[2+n:]
			}
		case nalFUA:
			if len(p) < 2 {
				d.broken = true
				break
			}
			if p[1]&0x80 != 0 { // start
				d.au = append(d.au, 0, 0, 0, 1, p[0]&0xE0|p[1]&0x1F)
				d.inFU = true
			} else if !d.inFU {
				d.broken = true
			}
			d.au = append(d.au, p[2:]...)
			if p[1]&0x40 != 0 {
				d.inFU = false
			}
		default:
			d.au = append(append(d.au, 0, 0, 0, 1), p...)
		}
	}
	if !marker {
		return nil
	}
	d.started = false
	if d.broken || d.inFU || len(d.au) == 0 {
		d.broken = false
		return nil
	}
	return bytes.Clone(d.au)
}

// keyframe reports whether an Annex B access unit holds an IDR slice.
func keyframe(au []byte) bool {
	for _, nal := range splitAnnexB(au) {
		if nal[0]&0x1F == nalIDR {
			return true
		}
	}
	return false
}
