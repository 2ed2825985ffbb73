package camsim

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzRequestReader feeds camsim's RTSP reader what a client may send, as
// a connection's serve loop reads it: no panic, bounded headers and body.
func FuzzRequestReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), readBufferSize)
		for range 64 {
			b, err := br.Peek(1)
			if err != nil {
				return
			}
			switch b[0] {
			case '$':
				if skipInterleaved(br) != nil {
					return
				}
				continue
			case '\r', '\n':
				_, _ = br.Discard(1)
				continue
			}
			req, err := readRequestLine(br)
			if err != nil {
				return
			}
			h, body, err := readHeader(br)
			if err != nil {
				return
			}
			if len(h) > maxHeaderLines || len(body) > maxBody {
				t.Fatalf("%d header fields, %d bytes of body", len(h), len(body))
			}
			req.header = h
			_, _ = req.cseq(), req.session()
		}
	})
}

// FuzzClientReader feeds camsim's RTSP client what a server may send (the
// first byte picks the codec): replies and interleaved packets, the
// packets through the RTP/JPEG and H.264 depacketizers, without a panic.
func FuzzClientReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := &Client{br: bufio.NewReaderSize(bytes.NewReader(data[1:]), readBufferSize), codec: CodecMJPEG}
		if data[0]&1 == 1 {
			c.codec = CodecH264
		}
		for range 1024 {
			ch, payload, res, err := c.readMessage()
			if err != nil {
				return
			}
			if res != nil {
				_ = mediaControl(string(res.body))
				continue
			}
			if ch != c.channel {
				continue
			}
			if c.codec == CodecH264 {
				_ = c.pushH264(payload)
			} else {
				_ = c.asm.push(payload)
			}
		}
	})
}
