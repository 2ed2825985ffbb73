package rtsprelay

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"camvisor/actors/redact"
)

// fuzzPassword is the camera password of the fuzzed Path; seeds quote it
// where a camera might echo it.
const fuzzPassword = "fUzz-S3cret"

// FuzzReadMessage feeds the relay's RTSP reader what a camera (or a
// process) may send: whatever it reads must be bounded, what the relay
// writes of it must read back as the same message (the relay's writer
// and reader agree, so nothing it forwards is cut or smuggled), and once
// rewritten for the process it holds no camera credential.
func FuzzReadMessage(f *testing.F) {
	const raw = "rtsp://admin:" + fuzzPassword + "@10.0.0.9:554/user=admin_password=" + fuzzPassword + "_channel=1?pwd=" + fuzzPassword
	cam, err := parseTarget(raw)
	if err != nil {
		f.Fatal(err)
	}
	const token = "0123456789abcdef0123456789abcdef"
	p := &Path{token: token, cam: cam, prefix: "rtsp://127.0.0.1:1/" + token, scrub: redact.ForURL(raw)}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), frameBuffer)
		for range 64 {
			b, err := skipBlank(br)
			if err != nil {
				return
			}
			if b == '$' {
				buf, err := frames(br)
				if err != nil {
					return
				}
				if len(buf) < 4 || len(buf) > br.Size() {
					t.Fatalf("frames returned %d bytes", len(buf))
				}
				_, _ = br.Discard(len(buf))
				continue
			}
			m, err := readMessage(br)
			if err != nil {
				return
			}
			if len(m.fields) > maxHeaderLines || len(m.body) > maxBody {
				t.Fatalf("read %d fields and %d bytes of body", len(m.fields), len(m.body))
			}
			sameAfterWrite(t, m)
			p.rewriteForClient(m)
			out := m.appendTo(nil)
			if bytes.Contains(out, []byte(fuzzPassword)) {
				t.Fatalf("the process would be sent the camera's password:\n%q", out)
			}
			sameAfterWrite(t, m)
		}
	})
}

// sameAfterWrite checks that m, written, reads back as m.
func sameAfterWrite(t *testing.T, m *message) {
	t.Helper()
	out := m.appendTo(nil)
	again, err := readMessage(bufio.NewReaderSize(bytes.NewReader(out), frameBuffer))
	if err != nil {
		t.Fatalf("the relay's own output does not read: %v\n%q", err, out)
	}
	want := m.fields[:0:0]
	for _, f := range m.fields {
		if !strings.EqualFold(f.name, "Content-Length") {
			want = append(want, f)
		}
	}
	got := again.fields[:0:0]
	for _, f := range again.fields {
		if !strings.EqualFold(f.name, "Content-Length") {
			got = append(got, f)
		}
	}
	if again.start != m.start || !bytes.Equal(again.body, m.body) || len(got) != len(want) {
		t.Fatalf("written %q, read back as %+v", out, again)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("field %q written as %q, read back as %q", want[i].name, want[i].value, got[i].value)
		}
	}
}
