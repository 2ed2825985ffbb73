package testkit

import (
	"syscall"
	"testing"
)

// AdoptOrphans makes this test process the subreaper of its descendants:
// processes orphaned when a child dies (camvisor SIGKILLed, its ffmpeg
// children killed by the parent-death signal) are re-parented here instead
// of to PID 1, which in some sandboxes never reaps them. At cleanup it
// reaps the zombies among pids.
func AdoptOrphans(t testing.TB, pids func() []int) {
	t.Helper()
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", errno)
	}
	t.Cleanup(func() {
		for _, pid := range pids() {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
	})
}
