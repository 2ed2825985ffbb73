package camsim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// The Huffman tables of JPEG Annex K.3, which RFC 2435 receivers (ffmpeg's
// rtpdec_jpeg among them) assume because RTP/JPEG does not carry tables.
// Go's image/jpeg encoder writes the same ones; TestGoEncoderIsRFC2435Type1
// checks that.
var (
	dcLumBits   = [16]byte{0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}
	dcChromBits = [16]byte{0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0}
	dcVals      = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	acLumBits   = [16]byte{0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d}
	acLumVals   = []byte{
		0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
		0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
		0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
		0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
		0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
		0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
		0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
		0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
		0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	}
	acChromBits = [16]byte{0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77}
	acChromVals = []byte{
		0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
		0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
		0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
		0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
		0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
		0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
		0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
		0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
		0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
		0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
		0xf9, 0xfa,
	}
)

// huffTable is one table of a DHT segment.
type huffTable struct {
	class, id byte // class 0 = DC, 1 = AC
	bits      [16]byte
	vals      []byte
}

var standardHuffman = []huffTable{
	{0, 0, dcLumBits, dcVals},
	{0, 1, dcChromBits, dcVals},
	{1, 0, acLumBits, acLumVals},
	{1, 1, acChromBits, acChromVals},
}

// JPEG markers camsim writes or reads.
const (
	markerSOF0 = 0xC0
	markerDHT  = 0xC4
	markerRST0 = 0xD0
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerDQT  = 0xDB
	markerDRI  = 0xDD
	markerAPP0 = 0xE0
)

// jpegParts is what camsim takes from one image/jpeg output: the segments
// RTP/JPEG leaves out and the entropy-coded scan it carries.
type jpegParts struct {
	qtables []byte   // every DQT table, 64 bytes each in zig-zag order
	sof     []byte   // SOF0 payload
	dht     [][]byte // DHT payloads
	sos     []byte   // SOS header payload
	dri     int      // restart interval in MCUs, 0 when absent
	scan    []byte   // entropy-coded data between the SOS header and EOI
}

// parseJPEG splits a baseline JPEG with one scan into its parts. The scan
// aliases b.
func parseJPEG(b []byte) (*jpegParts, error) {
	if len(b) < 4 || b[0] != 0xFF || b[1] != markerSOI {
		return nil, errors.New("jpeg: no SOI marker")
	}
	p := &jpegParts{}
	for i := 2; ; {
		if i+4 > len(b) || b[i] != 0xFF {
			return nil, fmt.Errorf("jpeg: no marker at offset %d", i)
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, fmt.Errorf("jpeg: segment %#x at offset %d overruns the data", m, i)
		}
		seg := b[i+4 : i+2+n]
		switch m {
		case markerDQT:
			for len(seg) > 0 {
				if len(seg) < 65 || seg[0]>>4 != 0 {
					return nil, errors.New("jpeg: DQT is not 8-bit")
				}
				p.qtables = append(p.qtables, seg[1:65]...)
				seg = seg[65:]
			}
		case markerSOF0:
			p.sof = seg
		case markerDHT:
			p.dht = append(p.dht, seg)
		case markerDRI:
			if len(seg) != 2 {
				return nil, errors.New("jpeg: bad DRI")
			}
			p.dri = int(binary.BigEndian.Uint16(seg))
		case markerSOS:
			p.sos = seg
			end := len(b) - 2
			if b[end] != 0xFF || b[end+1] != markerEOI {
				return nil, errors.New("jpeg: the scan does not end with EOI")
			}
			p.scan = b[i+2+n : end]
			return p, nil
		}
		i += 2 + n
	}
}

// RTP/JPEG packet layout (RFC 3550, RFC 2435), with camsim's choices.
const (
	interleaveLen = 4 // '$', channel, 16-bit length (RFC 2326 10.12)
	rtpHeaderLen  = 12
	jpegHeaderLen = 8
	restartHdrLen = 4
	qtableHdrLen  = 4

	// maxRTPPacket bounds RTP header plus payload, to look like a camera
	// that keeps packets under a typical MTU.
	maxRTPPacket = 1400

	payloadTypeJPEG = 26
	// jpegTypeRestart is RFC 2435 type 1 (4:2:0) plus 64: restart markers
	// are present and a restart marker header follows the main header.
	jpegTypeRestart = 1 + 64
	// qInBand says the quantization tables travel in the first packet of
	// every frame.
	qInBand = 255
)

// packetized is one frame cut into interleaved RTP/JPEG packets, ready to
// write back to back. The sequence number, timestamp and SSRC of each RTP
// header are left zero for each connection to fill in; data is never
// modified once built, so connections share it.
type packetized struct {
	data    []byte
	headers []int // offset of each RTP header in data
}

// packetize cuts a scan with restart markers every dri MCUs into RTP/JPEG
// packets for a w x h picture, carrying qtables in the first one.
func packetize(scan []byte, w, h, dri int, qtables []byte) *packetized {
	fixed := rtpHeaderLen + jpegHeaderLen + restartHdrLen
	firstRoom := maxRTPPacket - fixed - qtableHdrLen - len(qtables)
	room := maxRTPPacket - fixed
	n := 1
	if len(scan) > firstRoom {
		n += (len(scan) - firstRoom + room - 1) / room
	}
	p := &packetized{
		data:    make([]byte, 0, len(scan)+n*(interleaveLen+fixed)+qtableHdrLen+len(qtables)),
		headers: make([]int, 0, n),
	}
	for off := 0; off < len(scan) || off == 0; {
		chunk := room
		if off == 0 {
			chunk = firstRoom
		}
		chunk = min(chunk, len(scan)-off)
		last := off+chunk == len(scan)
		size := fixed + chunk
		if off == 0 {
			size += qtableHdrLen + len(qtables)
		}
		d := p.data
		d = append(d, '$', 0, byte(size>>8), byte(size))
		p.headers = append(p.headers, len(d))
		marker := byte(0)
		if last {
			marker = 0x80
		}
		d = append(d, 0x80, marker|payloadTypeJPEG, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		d = append(d, 0, byte(off>>16), byte(off>>8), byte(off),
			jpegTypeRestart, qInBand, byte(w/8), byte(h/8))
		// F=1, L=1, count 0x3FFF: packets need not align with restart
		// intervals (RFC 2435 3.1.7).
		d = append(d, byte(dri>>8), byte(dri), 0xFF, 0xFF)
		if off == 0 {
			d = append(d, 0, 0, byte(len(qtables)>>8), byte(len(qtables)))
			d = append(d, qtables...)
		}
		d = append(d, scan[off:off+chunk]...)
		p.data = d
		off += chunk
		if last {
			break
		}
	}
	return p
}

// buffers lays p out for one connection without copying payloads: for
// each packet, its own copy of the interleave and RTP headers (in hdrs) with
// channel, sequence number, timestamp and SSRC filled in, then the shared
// payload. It returns the grown scratch slices and the next sequence number.
func (p *packetized) buffers(hdrs []byte, bufs net.Buffers, channel byte, seq uint16, ts, ssrc uint32) ([]byte, net.Buffers, uint16) {
	const hl = interleaveLen + rtpHeaderLen
	hdrs = hdrs[:0]
	for _, h := range p.headers {
		at := len(hdrs)
		hdrs = append(hdrs, p.data[h-interleaveLen:h+rtpHeaderLen]...)
		hdrs[at+1] = channel
		binary.BigEndian.PutUint16(hdrs[at+interleaveLen+2:], seq)
		binary.BigEndian.PutUint32(hdrs[at+interleaveLen+4:], ts)
		binary.BigEndian.PutUint32(hdrs[at+interleaveLen+8:], ssrc)
		seq++
	}
	bufs = bufs[:0]
	for i, h := range p.headers {
		end := len(p.data)
		if i+1 < len(p.headers) {
			end = p.headers[i+1] - interleaveLen
		}
		bufs = append(bufs, hdrs[i*hl:(i+1)*hl], p.data[h+rtpHeaderLen:end])
	}
	return hdrs, bufs, seq
}

// buildJPEG makes a standalone JPEG of an RTP/JPEG frame the way
// rtpdec_jpeg does: headers from the type, size, tables and restart
// interval, then the scan, then EOI. w and h are in pixels.
func buildJPEG(typ, w, h, dri int, qtables, scan []byte) []byte {
	nq := len(qtables) / 64
	out := make([]byte, 0, 700+len(scan))
	out = append(out, 0xFF, markerSOI)
	out = append(out, 0xFF, markerAPP0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 2, 0, 0, 1, 0, 1, 0, 0)
	if dri > 0 {
		out = append(out, 0xFF, markerDRI, 0, 4, byte(dri>>8), byte(dri))
	}
	out = append(out, 0xFF, markerDQT)
	out = binary.BigEndian.AppendUint16(out, uint16(2+nq*65))
	for i := range nq {
		out = append(out, byte(i))
		out = append(out, qtables[i*64:(i+1)*64]...)
	}
	out = append(out, 0xFF, markerDHT)
	lenAt := len(out)
	out = append(out, 0, 0)
	for _, t := range standardHuffman {
		out = append(out, t.class<<4|t.id)
		out = append(out, t.bits[:]...)
		out = append(out, t.vals...)
	}
	binary.BigEndian.PutUint16(out[lenAt:], uint16(len(out)-lenAt))
	lumaSampling := byte(0x21) // type 0: 4:2:2
	if typ == 1 {
		lumaSampling = 0x22 // type 1: 4:2:0
	}
	chromaTable := byte(0)
	if nq == 2 {
		chromaTable = 1
	}
	out = append(out, 0xFF, markerSOF0, 0, 17, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 3,
		1, lumaSampling, 0,
		2, 0x11, chromaTable,
		3, 0x11, chromaTable)
	out = append(out, 0xFF, markerSOS, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0)
	out = append(out, scan...)
	return append(out, 0xFF, markerEOI)
}
