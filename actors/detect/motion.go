package detect

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"slices"
)

// Geometry of the grey frames Motion keeps. Frames are compared as grids
// of cells, each cell the mean brightness of a block of the frame, which
// averages away JPEG and sensor noise and keeps per-camera state tiny
// (64x48 bytes for a 4:3 camera, whatever its resolution).
const (
	// motionGridWidth is how many cells a frame is wide; the height keeps
	// the aspect ratio. A frame narrower than this gets one cell per column.
	motionGridWidth = 64
	// motionMaxGridHeight caps the rows of very tall frames.
	motionMaxGridHeight = 256
	// maxFramePixels refuses frames whose decoding alone would take more
	// memory than a camera snapshot ever needs (about 64 megapixels).
	maxFramePixels = 1 << 26
)

// MotionOptions tune Motion. A zero field takes its value from
// DefaultMotionOptions.
type MotionOptions struct {
	// PixelThreshold is how much a cell's mean brightness (0..255) must
	// change between two frames for the cell to count as changed.
	PixelThreshold uint8
	// MinArea is the least fraction of the frame (0..1) whose cells must
	// change for a detection to be reported.
	MinArea float64
	// FullArea is the changed fraction of the frame at which the score
	// reaches 1; below it the score is changed/FullArea.
	FullArea float64
}

// DefaultMotionOptions returns the defaults of MotionOptions. They are the
// one place motion policy lives:
//
//   - PixelThreshold 25 (10 % of full scale): a cell averages 25 pixels or
//     more, so JPEG requantization and sensor noise move it by a few levels
//     while a person or car against a background moves it by tens.
//   - MinArea 0.002 (0.2 % of the frame, 6 cells of the 64x48 grid): the
//     least a distant person walking covers between two snapshots, and
//     more than the isolated specks that noise and compression leave.
//   - FullArea 0.05 (5 % of the frame): a person crossing the frame near
//     the camera, or a car, between two snapshots seconds apart; more
//     change than that is not more certain.
func DefaultMotionOptions() MotionOptions {
	return MotionOptions{PixelThreshold: 25, MinArea: 0.002, FullArea: 0.05}
}

// withDefaults fills zero fields from DefaultMotionOptions.
func (o MotionOptions) withDefaults() MotionOptions {
	d := DefaultMotionOptions()
	if o.PixelThreshold == 0 {
		o.PixelThreshold = d.PixelThreshold
	}
	if o.MinArea == 0 {
		o.MinArea = d.MinArea
	}
	if o.FullArea == 0 {
		o.FullArea = d.FullArea
	}
	return o
}

// Validate reports the first field out of range once defaults are
// applied: MinArea must be in (0, 1] and FullArea in [MinArea, 1].
func (o MotionOptions) Validate() error {
	o = o.withDefaults()
	if !(o.MinArea > 0 && o.MinArea <= 1) {
		return fmt.Errorf("detector.motion.min_area: must be a fraction of the frame above 0 and at most 1, got %v", o.MinArea)
	}
	if !(o.FullArea >= o.MinArea && o.FullArea <= 1) {
		return fmt.Errorf("detector.motion.full_area: must be between min_area %v and 1, got %v", o.MinArea, o.FullArea)
	}
	return nil
}

// Motion is the built-in detector: it reports a "motion" detection when
// enough of a camera's frame changed since that camera's previous frame.
// It keeps one small grey frame per camera. It is not safe for concurrent
// use: one goroutine (the detector actor) owns it.
type Motion struct {
	opts  MotionOptions
	prev  map[string]*greyFrame
	masks map[string]*cellMask // each camera's masks over its grid (mask.go)

	// Scratch reused from frame to frame.
	spare   *greyFrame // the frame replaced last time, recycled
	changed []bool
	sums    []uint64
	xEdges  []int
	row     []uint8
}

// greyFrame is a frame shrunk to a grid of mean brightnesses, with what is
// needed to map cells back to the frame's pixels.
type greyFrame struct {
	bounds image.Rectangle // of the full-size frame
	gw, gh int             // grid size in cells
	pix    []uint8         // gw*gh cells, row by row
}

// NewMotion returns a Motion with opts; zero fields take their defaults
// and fields out of range (see Validate) are replaced by their defaults,
// so NewMotion never fails. Call Validate first to refuse them instead.
func NewMotion(opts MotionOptions) *Motion {
	opts = opts.withDefaults()
	d := DefaultMotionOptions()
	if !(opts.MinArea > 0 && opts.MinArea <= 1) {
		opts.MinArea = d.MinArea
	}
	if !(opts.FullArea >= opts.MinArea && opts.FullArea <= 1) {
		opts.FullArea = max(d.FullArea, opts.MinArea)
	}
	return &Motion{opts: opts, prev: make(map[string]*greyFrame)}
}

// Options returns the options in effect, defaults applied.
func (m *Motion) Options() MotionOptions { return m.opts }

// Detect compares jpeg with the previous frame of camera and returns one
// "motion" detection when at least MinArea of the frame changed, or none.
// The first frame of a camera, and a frame whose size differs from the
// previous one, only prime the comparison. A frame that does not decode is
// an error wrapping ErrBadImage and leaves the camera's state as it was.
func (m *Motion) Detect(camera string, jpeg []byte) ([]Detection, error) {
	return m.DetectWith(camera, jpeg, CameraMotion{})
}

// DetectWith is Detect with camera's own settings: its threshold, least
// area and masks (a cell a mask touches never counts as changed).
func (m *Motion) DetectWith(camera string, jpeg []byte, c CameraMotion) ([]Detection, error) {
	cur, err := m.grey(jpeg)
	if err != nil {
		return nil, fmt.Errorf("motion detect camera %q: %w", camera, err)
	}
	return m.detectGrey(camera, cur, c), nil
}

// dcMinCell is the least cell side, in pixels, at which a frame's grid is
// built from its JPEG blocks' means (decodeLumaDC) rather than from its
// decoded pixels: two 8x8 blocks, so that a cell's mean leans mostly on
// blocks wholly inside it. Smaller frames are cheap to decode in full.
const dcMinCell = 16

// grey shrinks a snapshot to its grid of mean brightnesses, refusing empty
// and oversized frames before spending memory on them. A frame large
// enough is not decoded in full: its blocks' means are read from the JPEG
// (decodeLumaDC), a fraction of a full decode's work.
func (m *Motion) grey(data []byte) (*greyFrame, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: the frame is empty", ErrBadImage)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes: %w", ErrBadImage, len(data), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxFramePixels {
		return nil, fmt.Errorf("%w: %dx%d pixels (at most %d accepted)", ErrBadImage, cfg.Width, cfg.Height, maxFramePixels)
	}
	if gw, gh := gridSize(cfg.Width, cfg.Height); cfg.Width/gw >= dcMinCell && cfg.Height/gh >= dcMinCell {
		dc, err := decodeLumaDC(data)
		switch {
		case err == nil:
			return m.shrinkDC(dc), nil
		case !errors.Is(err, errNotBaseline):
			return nil, fmt.Errorf("%w: %d bytes: %w", ErrBadImage, len(data), err)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %d bytes: %w", ErrBadImage, len(data), err)
	}
	return m.shrink(img), nil
}

// gridSize is the grid of a w x h frame: motionGridWidth cells across (one
// per column of a narrower frame), the height keeping the aspect ratio.
func gridSize(w, h int) (gw, gh int) {
	gw = min(motionGridWidth, w)
	gh = max(1, min(h, motionMaxGridHeight, (h*gw+w/2)/w))
	return gw, gh
}

// Forget drops camera's previous frame, for a camera removed from the
// patrol; its next frame primes it again.
func (m *Motion) Forget(camera string) {
	delete(m.prev, camera)
	delete(m.masks, camera)
}

// detectImage is Detect of a decoded frame.
func (m *Motion) detectImage(camera string, img image.Image) []Detection {
	return m.detectGrey(camera, m.shrink(img), CameraMotion{})
}

// detectGrey compares a frame's grid with the camera's previous one and
// keeps it for the next.
func (m *Motion) detectGrey(camera string, cur *greyFrame, c CameraMotion) []Detection {
	prev, seen := m.prev[camera]
	m.prev[camera] = cur
	if !seen {
		return nil
	}
	m.spare = prev
	if prev.bounds.Size() != cur.bounds.Size() {
		return nil
	}
	thr, minArea := m.opts.PixelThreshold, m.opts.MinArea
	if c.PixelThreshold > 0 {
		thr = c.PixelThreshold
	}
	if c.MinArea > 0 && c.MinArea <= 1 {
		minArea = c.MinArea
	}
	return m.compare(prev, cur, thr, minArea, m.maskFor(camera, cur, c.Masks))
}

// compare finds the cells that changed between two frames of one size
// by more than thr (a masked cell never does), keeps those with a changed
// neighbour (a lone cell is noise: anything worth reporting spans more
// than one), and reports their bounding box when they are at least
// minArea of the frame.
func (m *Motion) compare(prev, cur *greyFrame, thr uint8, minArea float64, mask *cellMask) []Detection {
	gw, gh := cur.gw, cur.gh
	n := gw * gh
	m.changed = slices.Grow(m.changed[:0], n)[:n]
	changed := m.changed
	t := int(thr)
	for i, c := range cur.pix {
		d := int(c) - int(prev.pix[i])
		changed[i] = (d > t || -d > t) && (mask == nil || !mask.masked[i])
	}
	kept := 0
	box := image.Rectangle{Min: image.Pt(gw, gh)}
	for y := range gh {
		for x := range gw {
			if !changed[y*gw+x] || !hasChangedNeighbour(changed, gw, gh, x, y) {
				continue
			}
			kept++
			box.Min.X, box.Min.Y = min(box.Min.X, x), min(box.Min.Y, y)
			box.Max.X, box.Max.Y = max(box.Max.X, x+1), max(box.Max.Y, y+1)
		}
	}
	area := float64(kept) / float64(n)
	if kept == 0 || area < minArea {
		return nil
	}
	return []Detection{{
		Label: MotionLabel,
		Score: math.Min(1, area/m.opts.FullArea),
		Box:   cur.pixels(box),
	}}
}

// hasChangedNeighbour reports whether one of the eight cells around (x, y)
// changed.
func hasChangedNeighbour(changed []bool, gw, gh, x, y int) bool {
	for ny := max(0, y-1); ny <= min(gh-1, y+1); ny++ {
		for nx := max(0, x-1); nx <= min(gw-1, x+1); nx++ {
			if (nx != x || ny != y) && changed[ny*gw+nx] {
				return true
			}
		}
	}
	return false
}

// pixels maps a rectangle of cells to the full-size frame's pixels, using
// the same cell edges shrink averaged over.
func (g *greyFrame) pixels(cells image.Rectangle) image.Rectangle {
	w, h := g.bounds.Dx(), g.bounds.Dy()
	r := image.Rect(
		cells.Min.X*w/g.gw, cells.Min.Y*h/g.gh,
		cells.Max.X*w/g.gw, cells.Max.Y*h/g.gh,
	)
	return r.Add(g.bounds.Min)
}

// shrink box-filters img's brightness into a grid of cells. Cell (cx, cy)
// averages the pixels from cx*w/gw to (cx+1)*w/gw across and likewise
// down. It reads the luma plane of *image.YCbCr (what image/jpeg returns
// for colour) and *image.Gray directly; other images go through
// color.GrayModel pixel by pixel, which is correct but slower.
func (m *Motion) shrink(img image.Image) *greyFrame {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	gw, gh := gridSize(w, h)

	g := m.spare
	m.spare = nil
	if g == nil {
		g = new(greyFrame)
	}
	g.bounds, g.gw, g.gh = b, gw, gh
	g.pix = slices.Grow(g.pix[:0], gw*gh)[:gw*gh]

	m.xEdges = slices.Grow(m.xEdges[:0], gw+1)[:gw+1]
	for cx := range m.xEdges {
		m.xEdges[cx] = cx * w / gw
	}
	m.sums = slices.Grow(m.sums[:0], gw)[:gw]
	xe, sums := m.xEdges, m.sums
	row := m.lumaRows(img)

	for cy := range gh {
		y0, y1 := cy*h/gh, (cy+1)*h/gh
		clear(sums)
		for y := y0; y < y1; y++ {
			r := row(y)
			for cx := range sums {
				var s uint32 // a cell row is at most w/gw+1 pixels of 255
				for _, v := range r[xe[cx]:xe[cx+1]] {
					s += uint32(v)
				}
				sums[cx] += uint64(s)
			}
		}
		out := g.pix[cy*gw : (cy+1)*gw]
		for cx, s := range sums {
			n := uint64((xe[cx+1] - xe[cx]) * (y1 - y0))
			out[cx] = uint8((s + n/2) / n)
		}
	}
	return g
}

// shrinkDC builds the grid from a frame's 8x8 block means: each cell
// averages the blocks it covers, weighted by how many of the cell's pixels
// each block holds (as if a block's pixels all had its mean).
func (m *Motion) shrinkDC(dc *lumaDC) *greyFrame {
	w, h := dc.w, dc.h
	gw, gh := gridSize(w, h)
	g := m.spare
	m.spare = nil
	if g == nil {
		g = new(greyFrame)
	}
	g.bounds, g.gw, g.gh = image.Rect(0, 0, w, h), gw, gh
	g.pix = slices.Grow(g.pix[:0], gw*gh)[:gw*gh]
	for cy := range gh {
		y0, y1 := cy*h/gh, (cy+1)*h/gh
		for cx := range gw {
			x0, x1 := cx*w/gw, (cx+1)*w/gw
			var sum, n uint64
			for by := y0 / 8; by*8 < y1; by++ {
				oy := uint64(min(y1, by*8+8) - max(y0, by*8))
				row := dc.mean[by*dc.bw:]
				for bx := x0 / 8; bx*8 < x1; bx++ {
					o := oy * uint64(min(x1, bx*8+8)-max(x0, bx*8))
					sum += o * uint64(row[bx])
					n += o
				}
			}
			g.pix[cy*gw+cx] = uint8((sum + n/2) / n)
		}
	}
	return g
}

// lumaRows returns a function giving row y (from the top of img's bounds)
// of img's brightness, w bytes valid until the next call.
func (m *Motion) lumaRows(img image.Image) func(y int) []uint8 {
	b := img.Bounds()
	w := b.Dx()
	switch p := img.(type) {
	case *image.YCbCr:
		return func(y int) []uint8 {
			i := p.YOffset(b.Min.X, b.Min.Y+y)
			return p.Y[i : i+w]
		}
	case *image.Gray:
		return func(y int) []uint8 {
			i := p.PixOffset(b.Min.X, b.Min.Y+y)
			return p.Pix[i : i+w]
		}
	}
	m.row = slices.Grow(m.row[:0], w)[:w]
	row := m.row
	return func(y int) []uint8 {
		for x := range row {
			row[x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
		return row
	}
}
