package camauth

import (
	"strings"
	"testing"
)

// FuzzChallenge feeds camauth what a camera may put in its 401s (one
// challenge per line; two rounds, as a camera that challenges again): no
// panic, an answer only when one is promised, an answer that is one
// header line whatever the camera's values, and never Basic after
// Digest.
func FuzzChallenge(f *testing.F) {
	f.Fuzz(func(t *testing.T, first, second string, answered bool, uri string) {
		_ = ParseParams(first)
		a := Client{User: "admin", Pass: "S3cret"}
		for round, challenges := range []string{first, second} {
			before := a.scheme
			ok := a.Accept(strings.Split(challenges, "\n"), answered || round > 0)
			h := a.Header("DESCRIBE", uri)
			if ok && h == "" {
				t.Fatalf("round %d: Accept promised an answer, Header gave none", round)
			}
			if strings.ContainsAny(h, "\r\n\x00") {
				t.Fatalf("round %d: the answer is not one header line: %q", round, h)
			}
			if before == "digest" && strings.HasPrefix(h, "Basic") {
				t.Fatalf("round %d: Basic after Digest", round)
			}
		}
	})
}
