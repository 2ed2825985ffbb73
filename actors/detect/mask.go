package detect

import "slices"

// Per-camera settings of Motion: a camera's own threshold and least area,
// and masks, the parts of its picture whose changes do not count (its own
// timestamp overlay, a tree in the wind). Masks are polygons in the
// picture's relative coordinates; Motion lays them over its grid of
// cells, whether the grid came from decoded pixels or from the JPEG's
// block means (decodeLumaDC), so one mask works at any resolution and on
// either path.

// CameraMotion are one camera's settings. A zero field takes the Motion's
// own option.
type CameraMotion struct {
	// PixelThreshold overrides MotionOptions.PixelThreshold.
	PixelThreshold uint8
	// MinArea overrides MotionOptions.MinArea (a share of the whole
	// picture, masked parts included).
	MinArea float64
	// Masks are polygons, each [x1, y1, x2, y2, x3, y3, ...] with
	// coordinates from 0 to 1 (x from the left, y from the top). A cell
	// of the grid that a mask touches is ignored.
	Masks [][]float64
}

// cellMask is a camera's masks laid over one grid size: masked[y*gw+x].
type cellMask struct {
	gw, gh, w, h int
	masks        [][]float64
	masked       []bool
	count        int // masked cells
}

// maskSamples is how many points per side of a cell are tested against a
// mask: a cell is masked when any of them, or any corner of the mask,
// falls inside it. A mask edge that only grazes a cell (no sample point
// inside) leaves it counted.
const maskSamples = 4

// maskFor is camera's masks over a frame's grid, built again only when
// the grid or the masks changed.
func (m *Motion) maskFor(camera string, g *greyFrame, masks [][]float64) *cellMask {
	if len(masks) == 0 {
		delete(m.masks, camera)
		return nil
	}
	w, h := g.bounds.Dx(), g.bounds.Dy()
	if c := m.masks[camera]; c != nil && c.gw == g.gw && c.gh == g.gh && c.w == w && c.h == h &&
		slices.EqualFunc(c.masks, masks, slices.Equal[[]float64]) {
		return c
	}
	c := &cellMask{gw: g.gw, gh: g.gh, w: w, h: h, masked: make([]bool, g.gw*g.gh)}
	for _, p := range masks {
		c.masks = append(c.masks, slices.Clone(p))
	}
	for cy := range g.gh {
		// The cell's edges in relative coordinates: the pixels shrink
		// averaged over (cx*w/gw to (cx+1)*w/gw).
		y0, y1 := float64(cy*h/g.gh)/float64(h), float64((cy+1)*h/g.gh)/float64(h)
		for cx := range g.gw {
			x0, x1 := float64(cx*w/g.gw)/float64(w), float64((cx+1)*w/g.gw)/float64(w)
			if touches(masks, x0, y0, x1, y1) {
				c.masked[cy*g.gw+cx] = true
				c.count++
			}
		}
	}
	if m.masks == nil {
		m.masks = map[string]*cellMask{}
	}
	m.masks[camera] = c
	return c
}

// touches reports whether a polygon of masks covers part of the cell
// [x0, x1) × [y0, y1).
func touches(masks [][]float64, x0, y0, x1, y1 float64) bool {
	for _, p := range masks {
		for i := 0; i+1 < len(p); i += 2 {
			if p[i] >= x0 && p[i] < x1 && p[i+1] >= y0 && p[i+1] < y1 {
				return true // a corner of the mask is in the cell
			}
		}
		for sy := range maskSamples {
			y := y0 + (y1-y0)*(float64(sy)+0.5)/maskSamples
			for sx := range maskSamples {
				if inside(p, x0+(x1-x0)*(float64(sx)+0.5)/maskSamples, y) {
					return true
				}
			}
		}
	}
	return false
}

// inside reports whether (x, y) is inside polygon p (even-odd rule).
func inside(p []float64, x, y float64) bool {
	in := false
	n := len(p) / 2
	for i, j := 0, n-1; i < n; j, i = i, i+1 {
		xi, yi, xj, yj := p[2*i], p[2*i+1], p[2*j], p[2*j+1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
