package camsim

import (
	"slices"
	"sync"
	"time"
)

// streamKey is the picture settings a sender serves. Connections admitted
// before and after a runtime change of mode or fps get different senders,
// so each keeps what it started with.
type streamKey struct {
	mode  Mode
	fps   int
	codec Codec
	gop   int  // frames; H.264 only
	clock bool // a timestamp burnt in (Camera.Clock)
}

// streamKeyOf is the sender a connection admitted with cfg watches.
func streamKeyOf(cfg Camera) streamKey {
	k := streamKey{mode: cfg.Mode, fps: cfg.FPS, codec: cfg.Codec, clock: cfg.Clock && cfg.Mode != ModePattern}
	if cfg.Codec == CodecH264 {
		k.gop = cfg.gopFrames()
	}
	return k
}

// picture is one encoded picture, shared by every connection watching and
// by consecutive frames while it does not change.
type picture struct {
	pkt  *packetized
	rows []strip // JPEG only: the rows its scan was joined from
	key  bool    // H.264 only: an IDR access unit
}

// first returns the picture as the first frame of a connection: padded
// with JPEG fill bytes (0xFF, allowed before any marker by ISO 10918-1
// B.1.1) to at least pad bytes, the size of a real camera's frame, so that
// ffmpeg -probesize 32768 knows the stream after one frame as it does with
// real cameras. It is built for each new connection rather than kept, so
// a still camera does not hold a padded copy forever.
func (p *picture) first(lib *library, pad int) *packetized {
	scan := scanPool.Get().(*[]byte)
	defer scanPool.Put(scan)
	*scan = joinRows((*scan)[:0], p.rows, 0)
	fill := max(0, pad-len(*scan))
	*scan = joinRows((*scan)[:0], p.rows, fill)
	return packetize(*scan, lib.w, lib.h, lib.w/mcuSide, lib.qtables)
}

// frame is a picture at a time.
type frame struct {
	pic *picture
	pts uint32 // 90 kHz, from the sender's start
	n   int64  // the sender's frame number: consecutive frames differ by one
}

// stream is the sender of one camera's pictures: one goroutine that builds
// a frame per tick and offers it to every playing connection. It exists
// only while someone watches.
type stream struct {
	cam  *camera
	key  streamKey
	stop chan struct{} // closed by the last unsubscribe

	// Guarded by cam.mu.
	subs map[*conn]struct{}
	last frame

	// Owned by run.
	rows      []strip
	prev      *picture
	loop      *h264Loop // H.264: the loop it plays
	loggedErr bool
}

func newStream(cam *camera, key streamKey) *stream {
	return &stream{cam: cam, key: key, stop: make(chan struct{}), subs: make(map[*conn]struct{})}
}

func (st *stream) run() {
	defer st.cam.srv.wg.Done()
	fps := int64(st.key.fps)
	tick := time.NewTicker(time.Second / time.Duration(fps))
	defer tick.Stop()
	// The loops start where the wall clock says, so successive snapshots
	// of a motion camera differ even when each one starts the sender anew;
	// an H.264 camera's GOP is shifted by its name, so cameras do not all
	// send their keyframes at the same instant.
	k0 := time.Now().UnixMilli() * fps / 1000
	if st.key.codec == CodecH264 {
		k0 += int64(nameHash(st.cam.name) % 1024)
	}
	for n := int64(0); ; n++ {
		pic, err := st.render(int(k0+n), time.Now())
		if err != nil {
			if !st.loggedErr {
				st.cam.srv.log.Error("render picture", "camera", st.cam.name, "reason", err)
				st.loggedErr = true
			}
		} else {
			f := frame{pic: pic, pts: uint32(n * 90000 / fps), n: n}
			st.cam.mu.Lock()
			// A camera hung at run time stops sending on the connections
			// it has, too.
			if !st.cam.cfg.Hang {
				st.last = f
				for c := range st.subs {
					c.offer(f)
				}
			}
			st.cam.mu.Unlock()
		}
		select {
		case <-st.stop:
			return
		case <-tick.C:
		}
	}
}

// render builds frame n of the loop, packetizing only when its rows
// differ from the previous frame's.
func (st *stream) render(n int, now time.Time) (*picture, error) {
	lib := st.cam.srv.lib
	if st.key.codec == CodecH264 {
		if st.loop == nil {
			loop, err := lib.h264Loop(h264Key{mode: st.key.mode, fps: st.key.fps, gopFrames: st.key.gop})
			if err != nil {
				return nil, err
			}
			st.loop = loop
		}
		return st.loop.frames[n%len(st.loop.frames)], nil
	}
	name, err := st.cam.nameStrip()
	if err != nil {
		return nil, err
	}
	rows := append(st.rows[:0], name)
	top := nameRow + 1 // the first background row shown
	if st.key.clock && st.key.mode != ModePattern {
		overlay, err := lib.clockOverlay(now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, overlay...)
		top += len(overlay)
	}
	switch st.key.mode {
	case ModeStatic:
		bg, err := lib.background()
		if err != nil {
			return nil, err
		}
		rows = append(rows, bg[top:]...)
	case ModeMotion:
		bg, err := lib.background()
		if err != nil {
			return nil, err
		}
		obj, err := lib.motionRows(n)
		if err != nil {
			return nil, err
		}
		rows = append(rows, bg[top:lib.objRow]...)
		rows = append(rows, obj...)
		rows = append(rows, bg[lib.objRow+lib.objRows:]...)
	default:
		pat, err := lib.patternFrame(n)
		if err != nil {
			return nil, err
		}
		clock, err := lib.clock(now)
		if err != nil {
			return nil, err
		}
		rows = append(rows, clock)
		rows = append(rows, pat[timeRow+1:]...)
	}
	st.rows = rows
	if st.prev != nil && sameRows(rows, st.prev.rows) {
		return st.prev, nil
	}
	scan := scanPool.Get().(*[]byte)
	*scan = joinRows((*scan)[:0], rows, 0)
	st.prev = &picture{
		pkt:  packetize(*scan, lib.w, lib.h, lib.w/mcuSide, lib.qtables),
		rows: append([]strip(nil), rows...),
	}
	scanPool.Put(scan)
	return st.prev, nil
}

// nameHash is FNV-1a of a camera name.
func nameHash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * 16777619
	}
	return h
}

// sameRows reports whether a and b are the same encoded rows (not merely
// equal bytes: rows are immutable, so identity is enough).
func sameRows(a, b []strip) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) || len(a[i]) > 0 && &a[i][0] != &b[i][0] {
			return false
		}
	}
	return true
}

// scanPool holds scratch buffers for joined scans, which packetize copies.
var scanPool = sync.Pool{New: func() any { return new([]byte) }}

// joinRows splices rows into one scan with RST0..RST7 between them, and
// fill bytes 0xFF before the first.
func joinRows(dst []byte, rows []strip, fill int) []byte {
	for i, r := range rows {
		if i == 1 {
			dst = slices.Grow(dst, fill)
			for range fill {
				dst = append(dst, 0xFF)
			}
		}
		if i > 0 {
			dst = append(dst, 0xFF, markerRST0+byte((i-1)%8))
		}
		dst = append(dst, r...)
	}
	return dst
}
