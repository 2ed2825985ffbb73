package camsim

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// TestGoEncoderIsRFC2435Type1 checks what camsim relies on: image/jpeg
// writes YCbCr 4:2:0 with the Annex K Huffman tables, which is what an RFC
// 2435 type 1 receiver rebuilds.
func TestGoEncoderIsRFC2435Type1(t *testing.T) {
	for _, tab := range standardHuffman {
		n := 0
		for _, b := range tab.bits {
			n += int(b)
		}
		if n != len(tab.vals) {
			t.Errorf("table %d/%d: bits count %d values, have %d", tab.class, tab.id, n, len(tab.vals))
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	for _, q := range []int{1, 50, 75, 100} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		p, err := parseJPEG(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := checkType1(p); err != nil {
			t.Errorf("quality %d: %v", q, err)
		}
	}
}

// TestPacketsRebuildPicture cuts pictures into RTP/JPEG packets, checks the
// packets against RFC 2435 and what rtpdec_jpeg needs, and rebuilds them.
func TestPacketsRebuildPicture(t *testing.T) {
	lib, err := newLibrary(320, 240, 90, "ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	bg, err := lib.background()
	if err != nil {
		t.Fatal(err)
	}
	for _, pad := range []int{0, 40 << 10} {
		scan := joinRows(nil, bg, 0)
		pkt := packetize(joinRows(nil, bg, max(0, pad-len(scan))), 320, 240, 320/16, lib.qtables)
		hdrs, bufs, next := pkt.buffers(nil, nil, 4, 65535, 1234, 0xCAFE)
		if want := uint16(65535 + len(pkt.headers)); next != want {
			t.Errorf("next sequence number %d, want %d", next, want)
		}
		_ = hdrs
		var a assembler
		var out []byte
		off := 0
		for i := 0; i < len(bufs); i += 2 {
			h, payload := bufs[i], bufs[i+1]
			if h[0] != '$' || h[1] != 4 || int(binary.BigEndian.Uint16(h[2:])) != rtpHeaderLen+len(payload) {
				t.Fatalf("packet %d: interleave header % x for %d payload bytes", i/2, h[:4], len(payload))
			}
			rtp := h[interleaveLen:]
			last := i+2 == len(bufs)
			if rtp[0] != 0x80 || rtp[1]&0x7f != payloadTypeJPEG || (rtp[1]&0x80 != 0) != last {
				t.Fatalf("packet %d: RTP header % x", i/2, rtp)
			}
			if seq := binary.BigEndian.Uint16(rtp[2:]); seq != uint16(65535+i/2) {
				t.Fatalf("packet %d: seq %d", i/2, seq)
			}
			if binary.BigEndian.Uint32(rtp[4:]) != 1234 || binary.BigEndian.Uint32(rtp[8:]) != 0xCAFE {
				t.Fatalf("packet %d: timestamp or SSRC not filled in", i/2)
			}
			if rtpHeaderLen+len(payload) > maxRTPPacket {
				t.Fatalf("packet %d: %d bytes", i/2, rtpHeaderLen+len(payload))
			}
			if got := int(payload[1])<<16 | int(payload[2])<<8 | int(payload[3]); got != off {
				t.Fatalf("packet %d: fragment offset %d, want %d", i/2, got, off)
			}
			if payload[4] != jpegTypeRestart || payload[5] != qInBand || payload[6] != 40 || payload[7] != 30 {
				t.Fatalf("packet %d: JPEG header % x", i/2, payload[:8])
			}
			if dri := binary.BigEndian.Uint16(payload[8:]); dri != 20 {
				t.Fatalf("packet %d: restart interval %d", i/2, dri)
			}
			data := len(payload) - jpegHeaderLen - restartHdrLen
			if off == 0 {
				q := payload[jpegHeaderLen+restartHdrLen:]
				if q[0] != 0 || q[1] != 0 || binary.BigEndian.Uint16(q[2:]) != 128 || !bytes.Equal(q[4:132], lib.qtables) {
					t.Fatal("first packet lacks the quantization tables")
				}
				data -= qtableHdrLen + 128
			}
			off += data
			pkt := append(append([]byte(nil), rtp...), payload...)
			if f := a.push(pkt); f != nil {
				out = f
			}
		}
		if out == nil {
			t.Fatal("no frame came out")
		}
		if pad > 0 && len(out) < pad {
			t.Errorf("padded frame is %d bytes, want at least %d", len(out), pad)
		}
		img, err := jpeg.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("pad %d: decode: %v", pad, err)
		}
		if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
			t.Fatalf("decoded %v", img.Bounds())
		}
		// The bars are where they were drawn: a restart-interval mix-up
		// would shift or smear them.
		want := color.RGBA{191, 191, 0, 255}
		r, g, b, _ := img.At(320*3/14, 80).RGBA()
		if d := absDiff(r>>8, uint32(want.R)) + absDiff(g>>8, uint32(want.G)) + absDiff(b>>8, uint32(want.B)); d > 30 {
			t.Errorf("pad %d: pixel in the yellow bar is %d,%d,%d", pad, r>>8, g>>8, b>>8)
		}
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestAssemblerSkipsBrokenFrames loses a packet and expects the frame to
// be skipped and the next one to come out whole.
func TestAssemblerSkipsBrokenFrames(t *testing.T) {
	lib, err := newLibrary(64, 64, 75, "ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := lib.patternFrame(0)
	if err != nil {
		t.Fatal(err)
	}
	pkt := packetize(joinRows(nil, rows, 4000), 64, 64, 4, lib.qtables)
	frame := func(ts uint32, skip int) [][]byte {
		_, bufs, _ := pkt.buffers(nil, nil, 0, 0, ts, 1)
		var out [][]byte
		for i := 0; i < len(bufs); i += 2 {
			if i/2 != skip {
				out = append(out, append(append([]byte(nil), bufs[i][interleaveLen:]...), bufs[i+1]...))
			}
		}
		return out
	}
	var a assembler
	got := 0
	for _, p := range append(frame(1, 1), frame(2, -1)...) {
		if f := a.push(p); f != nil {
			got++
			if _, err := jpeg.Decode(bytes.NewReader(f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got != 1 {
		t.Errorf("%d frames, want only the whole one", got)
	}
}
