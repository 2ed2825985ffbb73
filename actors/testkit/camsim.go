package testkit

import (
	"log/slog"
	"testing"

	"camvisor/actors/camsim"
	"camvisor/actors/camsim/hostile"
)

// CamsimPassword is the password of every test camera: tests grep for it
// wherever a secret must not appear.
const CamsimPassword = "s3cret-Pa55"

// Camsim serves cams on an ephemeral loopback port, with credentials, for
// the test's duration.
func Camsim(t testing.TB, cams ...camsim.Camera) *camsim.Server {
	t.Helper()
	return CamsimWith(t, camsim.Options{}, cams...)
}

// CamsimWith is Camsim with opts (a picture size, a frame rate); the
// address, credentials, cameras and logger are Camsim's.
func CamsimWith(t testing.TB, opts camsim.Options, cams ...camsim.Camera) *camsim.Server {
	t.Helper()
	logs := &SyncBuffer{}
	opts.User, opts.Pass, opts.Cameras, opts.HTTPAddr = "admin", CamsimPassword, cams, "127.0.0.1:0"
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := camsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Close()
		if t.Failed() {
			t.Logf("camsim log:\n%s", logs.String())
		}
	})
	return s
}

// Bystander listens where a hostile camera's redirect points, for the
// test's duration: nothing may reach it.
func Bystander(t testing.TB) *hostile.Bystander {
	t.Helper()
	b, err := hostile.NewBystander()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
