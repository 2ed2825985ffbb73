package camsim

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"slices"
	"sync"
	"time"
)

// strip is the entropy-coded scan of one 16-pixel row of MCUs, encoded as
// an image of its own. Its DC predictors start at zero, exactly as after a
// restart marker, so strips of the same size and quality can be spliced
// into one picture between RST markers with DRI set to one row of MCUs.
// A strip is never modified once encoded.
type strip []byte

// Picture geometry and motion. Policy for what pictures look like lives
// here.
const (
	mcuSide = 16

	// The pattern loop: colour bars repeating every patternPeriod pixels,
	// scrolled patternStep pixels per frame.
	patternPeriod = 128
	patternStep   = 8
	patternFrames = patternPeriod / patternStep

	// The motion loop: a bright square crossing the picture in
	// motionFrames frames, then starting again from the left.
	motionFrames = 24

	// Row 0 of every picture is a band with the camera name; row 1 of a
	// pattern picture is a band with the current time.
	nameRow = 0
	timeRow = 1

	clockLayout = "2006-01-02 15:04:05"
)

var (
	bandBackground = color.RGBA{16, 16, 16, 255}
	bandText       = color.RGBA{240, 240, 240, 255}
	motionObject   = color.RGBA{255, 255, 255, 255}
)

// library encodes the strips pictures are made of. The moving parts are
// the same for every camera, so one library per server encodes each of
// them once, on first use; only the name and clock bands are per camera.
type library struct {
	w, h, quality int
	ffmpeg        string // encodes the H.264 loops
	rows          int    // rows of MCUs
	qtables       []byte // luma then chroma, as RTP/JPEG carries them in band

	bandPool sync.Pool // *image.RGBA of one row, for band

	bgOnce sync.Once
	bg     []strip // static background, one strip per row
	bgErr  error

	motionOnce sync.Once
	motion     [][]strip // motion[k]: rows objRow.. with the square at position k
	motionErr  error
	objRow     int
	objRows    int

	clockMu  sync.Mutex
	clockSec int64
	clockRow strip // the time band; the same for every camera

	overlayMu   sync.Mutex
	overlaySec  int64
	overlayRows []strip // the burnt-in timestamp (Camera.Clock); the same for every camera

	patternOnce sync.Once
	pattern     [][]strip // pattern[k]: every row, scrolled k steps
	patternErr  error

	h264Mu sync.Mutex
	h264   map[h264Key]*h264Entry // encoded loops (h264.go)
}

// newLibrary checks that image/jpeg still writes what RTP/JPEG type 1
// needs and learns its quantization tables for quality.
func newLibrary(w, h, quality int, ffmpeg string) (*library, error) {
	l := &library{w: w, h: h, quality: quality, ffmpeg: ffmpeg, rows: h / mcuSide}
	l.objRows = 2
	if l.rows < 3 {
		l.objRows = 1
	}
	l.objRow = max(1, (l.rows-l.objRows)/2)

	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, mcuSide)), &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("encode probe picture: %w", err)
	}
	p, err := parseJPEG(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("parse probe picture: %w", err)
	}
	if err := checkType1(p); err != nil {
		return nil, fmt.Errorf("image/jpeg output does not fit RTP/JPEG: %w", err)
	}
	l.qtables = bytes.Clone(p.qtables)
	return l, nil
}

// checkType1 reports whether an image/jpeg output is what an RFC 2435
// receiver rebuilds for type 1: YCbCr 4:2:0 with luma on table 0 and chroma
// on table 1, the Annex K Huffman tables, one interleaved scan.
func checkType1(p *jpegParts) error {
	if len(p.qtables) != 128 {
		return fmt.Errorf("%d bytes of quantization tables, want two 8-bit tables", len(p.qtables))
	}
	wantSOF := []byte{1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
	if len(p.sof) != 15 || p.sof[0] != 8 || p.sof[5] != 3 || !bytes.Equal(p.sof[6:], wantSOF) {
		return fmt.Errorf("SOF0 % x is not 8-bit YCbCr 4:2:0 with tables 0,1,1", p.sof)
	}
	wantSOS := []byte{3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0}
	if !bytes.Equal(p.sos, wantSOS) {
		return fmt.Errorf("SOS % x, want % x", p.sos, wantSOS)
	}
	var got []huffTable
	for _, seg := range p.dht {
		for len(seg) > 0 {
			if len(seg) < 17 {
				return errors.New("short DHT")
			}
			t := huffTable{class: seg[0] >> 4, id: seg[0] & 15}
			copy(t.bits[:], seg[1:17])
			n := 0
			for _, b := range t.bits {
				n += int(b)
			}
			if len(seg) < 17+n {
				return errors.New("short DHT")
			}
			t.vals = seg[17 : 17+n]
			got = append(got, t)
			seg = seg[17+n:]
		}
	}
	if len(got) != len(standardHuffman) {
		return fmt.Errorf("%d Huffman tables, want %d", len(got), len(standardHuffman))
	}
	for _, want := range standardHuffman {
		i := slices.IndexFunc(got, func(g huffTable) bool { return g.class == want.class && g.id == want.id })
		if i < 0 || got[i].bits != want.bits || !bytes.Equal(got[i].vals, want.vals) {
			return fmt.Errorf("Huffman table class %d id %d is missing or differs from JPEG Annex K", want.class, want.id)
		}
	}
	return nil
}

// encodeRows encodes img, whose height is a whole number of MCU rows, one
// row at a time.
func (l *library) encodeRows(img *image.RGBA) ([]strip, error) {
	var buf bytes.Buffer
	var strips []strip
	r := img.Rect
	for y := r.Min.Y; y < r.Max.Y; y += mcuSide {
		buf.Reset()
		row := img.SubImage(image.Rect(r.Min.X, y, r.Max.X, y+mcuSide))
		if err := jpeg.Encode(&buf, row, &jpeg.Options{Quality: l.quality}); err != nil {
			return nil, fmt.Errorf("encode row at y=%d: %w", y, err)
		}
		p, err := parseJPEG(buf.Bytes())
		if err != nil {
			return nil, fmt.Errorf("encode row at y=%d: %w", y, err)
		}
		strips = append(strips, bytes.Clone(p.scan))
	}
	return strips, nil
}

// band encodes one row showing text, large if it fits.
func (l *library) band(text string) (strip, error) {
	img, _ := l.bandPool.Get().(*image.RGBA)
	if img == nil {
		img = image.NewRGBA(image.Rect(0, 0, l.w, mcuSide))
	}
	defer l.bandPool.Put(img)
	drawBand(img, 0, text)
	s, err := l.encodeRows(img)
	if err != nil {
		return nil, fmt.Errorf("band %q: %w", text, err)
	}
	return s[0], nil
}

// drawBand paints the 16-pixel row from y0 as a band showing text, large
// if it fits.
func drawBand(img *image.RGBA, y0 int, text string) {
	fillRect(img, image.Rect(img.Rect.Min.X, y0, img.Rect.Max.X, y0+mcuSide), bandBackground)
	scale, y := 2, 1
	if 8+len(text)*glyphAdvance*2 > img.Rect.Dx() {
		scale, y = 1, 4
	}
	drawText(img, img.Rect.Min.X+4, y0+y, scale, text, bandText)
}

// clock returns the band showing the current time. Every camera shows the
// same one, so it is encoded once a second for the whole server, and only
// while some pattern camera is watched.
func (l *library) clock(now time.Time) (strip, error) {
	l.clockMu.Lock()
	defer l.clockMu.Unlock()
	if sec := now.Unix(); l.clockRow == nil || sec > l.clockSec {
		s, err := l.band(now.Format(clockLayout))
		if err != nil {
			return nil, err
		}
		l.clockRow, l.clockSec = s, sec
	}
	return l.clockRow, nil
}

// overlayRowCount is how many rows the burnt-in timestamp takes: about a
// twelfth of the picture's height, as large as cameras draw theirs, and
// never reaching the moving square's rows.
func (l *library) overlayRowCount() int {
	return max(0, min(max(1, l.rows/12), l.objRow-nameRow-1))
}

// clockOverlay returns the rows of the burnt-in timestamp for now: the
// time as large as the rows allow. Every camera with a clock shows the
// same, so it is encoded once a second for the whole server.
func (l *library) clockOverlay(now time.Time) ([]strip, error) {
	n := l.overlayRowCount()
	if n == 0 {
		return nil, nil
	}
	if n == 1 {
		s, err := l.clock(now)
		return []strip{s}, err
	}
	l.overlayMu.Lock()
	defer l.overlayMu.Unlock()
	if sec := now.Unix(); l.overlayRows != nil && sec <= l.overlaySec {
		return l.overlayRows, nil
	}
	text := now.Format(clockLayout)
	h := n * mcuSide
	img := image.NewRGBA(image.Rect(0, 0, l.w, h))
	fillRect(img, img.Rect, bandBackground)
	// As tall as the rows allow, and over at most 60 % of the width: a
	// camera's timestamp sits in its corner.
	scale := max(1, min((h-4)/glyphH, l.w*6/10/(len(text)*glyphAdvance)))
	drawText(img, 4, (h-glyphH*scale)/2, scale, text, bandText)
	rows, err := l.encodeRows(img)
	if err != nil {
		return nil, fmt.Errorf("clock overlay %q: %w", text, err)
	}
	l.overlayRows, l.overlaySec = rows, now.Unix()
	return rows, nil
}

// background returns the static picture's rows.
func (l *library) background() ([]strip, error) {
	l.bgOnce.Do(func() {
		img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
		l.drawBackground(img)
		l.bg, l.bgErr = l.encodeRows(img)
		if l.bgErr != nil {
			l.bgErr = fmt.Errorf("static background: %w", l.bgErr)
		}
	})
	return l.bg, l.bgErr
}

// drawBackground paints the static picture: colour bars over a grey ramp,
// with a dark scene behind the moving square's rows.
func (l *library) drawBackground(img *image.RGBA) {
	bars := []color.RGBA{
		{191, 191, 191, 255}, {191, 191, 0, 255}, {0, 191, 191, 255}, {0, 191, 0, 255},
		{191, 0, 191, 255}, {191, 0, 0, 255}, {0, 0, 191, 255},
	}
	barsEnd := l.h * 2 / 3
	for x := range l.w {
		c := bars[x*len(bars)/l.w]
		fillRect(img, image.Rect(x, 0, x+1, barsEnd), c)
		v := uint8(x * 255 / l.w)
		fillRect(img, image.Rect(x, barsEnd, x+1, l.h), color.RGBA{v, v, v, 255})
	}
	// The square moves over a dark, still strip of "street".
	y0, y1 := l.objRow*mcuSide, (l.objRow+l.objRows)*mcuSide
	fillRect(img, image.Rect(0, y0, l.w, y1), color.RGBA{40, 44, 52, 255})
	for x := 0; x < l.w; x += 48 {
		fillRect(img, image.Rect(x+8, y0+4, x+24, y1-4), color.RGBA{70, 60, 50, 255})
	}
}

// motionRows returns the rows the square crosses, with the square at
// position k of motionFrames.
func (l *library) motionRows(k int) ([]strip, error) {
	l.motionOnce.Do(func() {
		full := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
		l.drawBackground(full)
		y0, y1 := l.objRow*mcuSide, (l.objRow+l.objRows)*mcuSide
		for i := range motionFrames {
			img := image.NewRGBA(image.Rect(0, y0, l.w, y1))
			copy(img.Pix, full.Pix[full.PixOffset(0, y0):full.PixOffset(0, y1)])
			l.drawSquare(img, i)
			rows, err := l.encodeRows(img)
			if err != nil {
				l.motionErr = fmt.Errorf("motion frame %d: %w", i, err)
				return
			}
			l.motion = append(l.motion, rows)
		}
	})
	if l.motionErr != nil {
		return nil, l.motionErr
	}
	return l.motion[k%motionFrames], nil
}

// drawSquare paints the moving square at position k of motionFrames.
func (l *library) drawSquare(img *image.RGBA, k int) {
	y0, y1 := l.objRow*mcuSide, (l.objRow+l.objRows)*mcuSide
	side := y1 - y0
	x := k * (l.w - side) / (motionFrames - 1)
	fillRect(img, image.Rect(x, y0, x+side, y1), motionObject)
}

// patternFrame returns every row of the pattern scrolled k steps.
func (l *library) patternFrame(k int) ([]strip, error) {
	l.patternOnce.Do(func() {
		img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
		for i := range patternFrames {
			l.drawPattern(img, i*patternStep)
			rows, err := l.encodeRows(img)
			if err != nil {
				l.patternErr = fmt.Errorf("pattern frame %d: %w", i, err)
				return
			}
			l.pattern = append(l.pattern, rows)
		}
	})
	if l.patternErr != nil {
		return nil, l.patternErr
	}
	return l.pattern[k%patternFrames], nil
}

// drawPattern paints colour bars shifted left by shift pixels, fading from
// top to bottom, with a diagonal grid so the picture has detail.
func (l *library) drawPattern(img *image.RGBA, shift int) {
	bars := []color.RGBA{
		{235, 235, 235, 255}, {235, 235, 16, 255}, {16, 235, 235, 255}, {16, 235, 16, 255},
		{235, 16, 235, 255}, {235, 16, 16, 255}, {16, 16, 235, 255}, {16, 16, 16, 255},
	}
	barW := patternPeriod / len(bars)
	for y := range l.h {
		fade := 256 - y*160/l.h
		for x := range l.w {
			px := x + shift
			c := bars[(px%patternPeriod)/barW]
			if (px+y)%32 == 0 || (px-y+l.h*32)%32 == 0 {
				c = color.RGBA{128, 128, 128, 255}
			}
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(int(c.R) * fade >> 8)
			img.Pix[i+1] = uint8(int(c.G) * fade >> 8)
			img.Pix[i+2] = uint8(int(c.B) * fade >> 8)
			img.Pix[i+3] = 255
		}
	}
}
