package detect

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Motion needs a frame's brightness averaged over cells of 30 pixels and
// more (a 64-cell-wide grid of a 1080p frame), not its pixels. A baseline
// JPEG carries, for each 8x8 block, the block's mean brightness as its DC
// coefficient; decodeLumaDC reads those and skips the rest: the Huffman
// codes of every coefficient must still be read (they are not aligned), but
// no inverse DCT, no upsampling, no colour and no full-size image are
// needed. The result is the frame's luma at one eighth of its size.

// lumaDC is a frame's luma at 1/8 scale: one value per 8x8 block.
type lumaDC struct {
	w, h   int     // the frame's size in pixels
	bw, bh int     // blocks across and down: ceil(w/8), ceil(h/8)
	mean   []uint8 // bw*bh block means, row by row
}

// errNotBaseline: the JPEG is progressive, arithmetic-coded, or otherwise
// not what decodeLumaDC reads; the caller decodes it in full instead.
var errNotBaseline = errors.New("not a baseline Huffman JPEG")

// JPEG markers decodeLumaDC reads.
const (
	mSOF0 = 0xC0
	mSOF1 = 0xC1
	mDHT  = 0xC4
	mRST0 = 0xD0
	mRST7 = 0xD7
	mSOI  = 0xD8
	mEOI  = 0xD9
	mSOS  = 0xDA
	mDQT  = 0xDB
	mDRI  = 0xDD
)

// huffman is one decoding table: a lookup of the first lutBits bits for
// short codes, canonical limits for the longer ones.
type huffman struct {
	lut     [1 << lutBits]uint16 // symbol<<8 | code length; 0 when longer than lutBits
	maxCode [17]int32            // largest code of each length, -1 if none
	valPtr  [17]int32            // index in vals of the first code of each length
	minCode [17]int32
	vals    []uint8
	present bool
}

const lutBits = 9

// build makes the table from a DHT's 16 counts and its symbols.
func (t *huffman) build(counts [16]uint8, vals []uint8) error {
	*t = huffman{vals: vals, present: true}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		// More codes of a length than the length has room for: the table
		// would index past its lookup (a damaged or hostile JPEG).
		if code+n > 1<<l {
			return errors.New("bad Huffman table")
		}
		t.valPtr[l], t.minCode[l] = k, code
		if n == 0 {
			t.maxCode[l] = -1
		} else {
			t.maxCode[l] = code + n - 1
		}
		for i := int32(0); i < n; i++ {
			if l <= lutBits {
				shift := lutBits - l
				for j := int32(0); j < 1<<shift; j++ {
					t.lut[(code<<shift)|j] = uint16(vals[k])<<8 | uint16(l)
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	return nil
}

// bitReader reads the entropy-coded data of a scan, unstuffing 0xFF00
// and stopping at a marker (it then reads zeros).
type bitReader struct {
	data   []byte
	pos    int
	acc    uint64
	n      uint // bits in acc
	marker bool // a marker was reached
	zeros  uint // bytes of zeros put in acc past a marker or the end
}

func (r *bitReader) fill() {
	for r.n <= 56 {
		if r.marker || r.pos >= len(r.data) {
			r.acc <<= 8
			r.n += 8
			r.zeros++
			continue
		}
		b := r.data[r.pos]
		if b == 0xFF {
			if r.pos+1 < len(r.data) && r.data[r.pos+1] == 0x00 {
				r.pos += 2
			} else {
				r.marker = true
				continue
			}
		} else {
			r.pos++
		}
		r.acc = r.acc<<8 | uint64(b)
		r.n += 8
	}
}

func (r *bitReader) bits(k uint) uint32 {
	if k == 0 {
		return 0
	}
	if r.n < k {
		r.fill()
	}
	v := uint32(r.acc>>(r.n-k)) & (1<<k - 1)
	r.n -= k
	return v
}

// decode reads one Huffman-coded symbol.
func (r *bitReader) decode(t *huffman) (uint8, error) {
	if r.n < 16 {
		r.fill()
	}
	if e := t.lut[uint32(r.acc>>(r.n-lutBits))&(1<<lutBits-1)]; e != 0 {
		r.n -= uint(e & 0xFF)
		return uint8(e >> 8), nil
	}
	code := int32(0)
	for l := 1; l <= 16; l++ {
		code = code<<1 | int32(r.bits(1))
		if code <= t.maxCode[l] {
			return t.vals[t.valPtr[l]+code-t.minCode[l]], nil
		}
	}
	return 0, errors.New("bad Huffman code")
}

// restart skips to past the next RSTn marker and resets the reader.
func (r *bitReader) restart() error {
	for r.pos+1 < len(r.data) {
		if r.data[r.pos] == 0xFF && r.data[r.pos+1] >= mRST0 && r.data[r.pos+1] <= mRST7 {
			r.pos += 2
			r.acc, r.n, r.marker, r.zeros = 0, 0, false, 0
			return nil
		}
		r.pos++
	}
	return errors.New("missing restart marker")
}

// extend turns s bits v into the signed value they code.
func extend(v uint32, s uint8) int32 {
	if s == 0 {
		return 0
	}
	if v < 1<<(s-1) {
		return int32(v) - (1 << s) + 1
	}
	return int32(v)
}

// component is one colour component of the frame.
type component struct {
	id, h, v, tq uint8
	td, ta       uint8 // DC and AC table of the scan
}

// decodeLumaDC reads a baseline JPEG's luma block means. It returns
// errNotBaseline for what it does not read (progressive, arithmetic,
// 12-bit), and an error for a JPEG that is damaged.
func decodeLumaDC(data []byte) (*lumaDC, error) {
	if len(data) < 4 || data[0] != 0xFF || data[1] != mSOI {
		return nil, errors.New("no SOI marker")
	}
	var (
		qt         [4][64]uint16
		dc, ac     [4]huffman
		comps      []component
		w, h, dri  int
		hmax, vmax uint8
	)
	for i := 2; ; {
		for i < len(data) && data[i] == 0xFF && i+1 < len(data) && data[i+1] == 0xFF {
			i++ // fill bytes
		}
		if i+4 > len(data) || data[i] != 0xFF {
			return nil, fmt.Errorf("no marker at offset %d", i)
		}
		m := data[i+1]
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil, fmt.Errorf("segment %#x at offset %d overruns the data", m, i)
		}
		seg := data[i+4 : i+2+n]
		i += 2 + n
		switch {
		case m == mDQT:
			for len(seg) > 0 {
				pq, tq := seg[0]>>4, seg[0]&3
				if pq == 0 {
					if len(seg) < 65 {
						return nil, errors.New("short DQT")
					}
					for k := range 64 {
						qt[tq][k] = uint16(seg[1+k])
					}
					seg = seg[65:]
				} else {
					if len(seg) < 129 {
						return nil, errors.New("short DQT")
					}
					for k := range 64 {
						qt[tq][k] = binary.BigEndian.Uint16(seg[1+2*k:])
					}
					seg = seg[129:]
				}
			}
		case m == mDHT:
			for len(seg) > 0 {
				if len(seg) < 17 {
					return nil, errors.New("short DHT")
				}
				class, id := seg[0]>>4, seg[0]&3
				var counts [16]uint8
				copy(counts[:], seg[1:17])
				total := 0
				for _, c := range counts {
					total += int(c)
				}
				if len(seg) < 17+total {
					return nil, errors.New("short DHT")
				}
				t := &dc[id]
				if class == 1 {
					t = &ac[id]
				}
				if err := t.build(counts, seg[17:17+total]); err != nil {
					return nil, err
				}
				seg = seg[17+total:]
			}
		case m == mDRI:
			if len(seg) < 2 {
				return nil, errors.New("short DRI")
			}
			dri = int(binary.BigEndian.Uint16(seg))
		case m == mSOF0 || m == mSOF1:
			if len(seg) < 6 || seg[0] != 8 {
				return nil, errNotBaseline
			}
			h, w = int(binary.BigEndian.Uint16(seg[1:])), int(binary.BigEndian.Uint16(seg[3:]))
			nc := int(seg[5])
			if w == 0 || h == 0 || nc < 1 || nc > 4 || len(seg) < 6+3*nc {
				return nil, errors.New("bad SOF")
			}
			for k := range nc {
				c := component{id: seg[6+3*k], h: seg[7+3*k] >> 4, v: seg[7+3*k] & 15, tq: seg[8+3*k] & 3}
				if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
					return nil, errors.New("bad sampling factors")
				}
				hmax, vmax = max(hmax, c.h), max(vmax, c.v)
				comps = append(comps, c)
			}
		case m >= 0xC2 && m <= 0xCF && m != mDHT && m != 0xC8 && m != 0xCC:
			return nil, errNotBaseline // progressive, lossless, arithmetic
		case m == mSOS:
			if comps == nil || len(seg) < 1 {
				return nil, errors.New("SOS before SOF")
			}
			ns := int(seg[0])
			if ns != len(comps) || len(seg) < 1+2*ns {
				// A scan of some components only: not a sequential
				// interleaved frame this reader knows.
				if ns != 1 || len(comps) != 1 {
					return nil, errNotBaseline
				}
			}
			for k := range ns {
				id, tables := seg[1+2*k], seg[2+2*k]
				for c := range comps {
					if comps[c].id == id {
						comps[c].td, comps[c].ta = tables>>4, tables&15
					}
				}
			}
			for _, c := range comps {
				if !dc[c.td&3].present || !ac[c.ta&3].present {
					return nil, errors.New("scan uses a Huffman table never defined")
				}
			}
			if len(comps) > 1 && (comps[0].h != hmax || comps[0].v != vmax) {
				return nil, errNotBaseline // luma is not the most sampled component
			}
			return scanLumaDC(data[i:], w, h, dri, comps, hmax, vmax, &qt, &dc, &ac)
		}
	}
}

// scanLumaDC decodes the scan's blocks, keeping the luma DC values.
func scanLumaDC(data []byte, w, h, dri int, comps []component, hmax, vmax uint8, qt *[4][64]uint16, dc, ac *[4]huffman) (*lumaDC, error) {
	out := &lumaDC{w: w, h: h, bw: (w + 7) / 8, bh: (h + 7) / 8}
	// Every block costs at least two bits (a DC code and an end of block):
	// a frame that claims more blocks than its data can hold is damaged
	// or hostile, and would cost a minute and 64 MB for 65535x65535.
	if out.bw*out.bh > 4*len(data) {
		return nil, fmt.Errorf("a %dx%d frame in %d bytes: the scan ends before its last block", w, h, len(data))
	}
	out.mean = make([]uint8, out.bw*out.bh)
	r := &bitReader{data: data}
	y := comps[0]
	q0 := int32(qt[y.tq][0])
	pred := make([]int32, len(comps))
	// A single-component frame is one block per MCU; otherwise an MCU
	// holds h x v blocks of each component, luma first.
	mcuW, mcuH := 8*int(hmax), 8*int(vmax)
	if len(comps) == 1 {
		mcuW, mcuH = 8, 8
	}
	mx, my := (w+mcuW-1)/mcuW, (h+mcuH-1)/mcuH
	mcus := 0
	for row := range my {
		for col := range mx {
			if dri > 0 && mcus > 0 && mcus%dri == 0 {
				if err := r.restart(); err != nil {
					return nil, err
				}
				clear(pred)
			}
			mcus++
			for ci, c := range comps {
				bh, bv := int(c.h), int(c.v)
				if len(comps) == 1 {
					bh, bv = 1, 1
				}
				for by := range bv {
					for bx := range bh {
						s, err := r.decode(&dc[c.td&3])
						if err != nil {
							return nil, err
						}
						pred[ci] += extend(r.bits(uint(s)), s)
						if err := skipAC(r, &ac[c.ta&3]); err != nil {
							return nil, err
						}
						if ci != 0 {
							continue
						}
						x0, y0 := col*bh+bx, row*bv+by
						if x0 >= out.bw || y0 >= out.bh {
							continue // padding blocks past the frame's edge
						}
						// The DC coefficient is 8 times the block's mean of
						// level-shifted samples.
						v := (pred[0]*q0+4)>>3 + 128
						out.mean[y0*out.bw+x0] = uint8(min(255, max(0, v)))
					}
				}
			}
			if r.zeros*8 > r.n {
				// This block was decoded from zeros read past the data's
				// end (or a marker): the frame was cut short. Said now,
				// not after decoding every block of zeros.
				return nil, errors.New("the scan ends before its last block")
			}
		}
	}
	if r.zeros*8 > r.n {
		// Blocks were decoded from the zeros read past the data's end:
		// the frame was cut short.
		return nil, errors.New("the scan ends before its last block")
	}
	return out, nil
}

// skipAC reads past a block's 63 AC coefficients.
func skipAC(r *bitReader, t *huffman) error {
	for k := 1; k < 64; {
		rs, err := r.decode(t)
		if err != nil {
			return err
		}
		run, size := rs>>4, rs&15
		if size == 0 {
			if run != 15 {
				return nil // end of block
			}
			k += 16
			continue
		}
		r.bits(uint(size))
		k += int(run) + 1
	}
	return nil
}
