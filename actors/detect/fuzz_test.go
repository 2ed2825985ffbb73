package detect

import "testing"

// FuzzDecodeLumaDC feeds the JPEG DC decoder what a camera's snapshot_url
// may answer: no panic, and a result that matches the size it claims.
func FuzzDecodeLumaDC(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		dc, err := decodeLumaDC(data)
		if err != nil {
			return
		}
		if dc.bw != (dc.w+7)/8 || dc.bh != (dc.h+7)/8 || len(dc.mean) != dc.bw*dc.bh {
			t.Fatalf("%dx%d decoded as %dx%d blocks, %d means", dc.w, dc.h, dc.bw, dc.bh, len(dc.mean))
		}
	})
}
