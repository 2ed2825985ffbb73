package testkit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Facts collects, in order, every fact a tree publishes, so that a test
// can wait for the one it needs. Subscribe Add before the tree starts, or
// the first facts are missed. A test that needs "the next X" takes a Mark
// first and waits for the first X after it, instead of counting facts or
// assuming cycle numbers.
type Facts struct {
	mu   sync.Mutex
	list []any
	wake chan struct{} // closed and replaced whenever a fact arrives
}

// NewFacts returns an empty collector.
func NewFacts() *Facts { return &Facts{wake: make(chan struct{})} }

// Mark is a point in the sequence of facts.
type Mark int

// Start is the mark before the first fact.
const Start Mark = 0

// Add records a fact; it is the event stream's subscriber.
func (f *Facts) Add(fact any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, fact)
	close(f.wake)
	f.wake = make(chan struct{})
}

// Mark is now: facts added later are after it.
func (f *Facts) Mark() Mark {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Mark(len(f.list))
}

// snapshot returns the facts after from and a channel closed at the next.
func (f *Facts) snapshot(from Mark) ([]any, chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.list[min(int(from), len(f.list)):], f.wake
}

// All returns every fact of type T after from that pred (nil: any) accepts.
func All[T any](f *Facts, from Mark, pred func(*T) bool) []*T {
	list, _ := f.snapshot(from)
	var out []*T
	for _, e := range list {
		if v, ok := e.(*T); ok && (pred == nil || pred(v)) {
			out = append(out, v)
		}
	}
	return out
}

// Count is len(All(...)).
func Count[T any](f *Facts, from Mark, pred func(*T) bool) int {
	return len(All(f, from, pred))
}

// WaitFor returns the first fact of type T after from that pred accepts,
// waiting up to timeout; then it fails t naming what it waited for.
func WaitFor[T any](t testing.TB, f *Facts, from Mark, timeout time.Duration, what string, pred func(*T) bool) *T {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		list, wake := f.snapshot(from)
		for _, e := range list {
			if v, ok := e.(*T); ok && (pred == nil || pred(v)) {
				return v
			}
		}
		from += Mark(len(list))
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("after %s no %s: %s", timeout, typeName[T](), what)
		}
	}
}

// WaitCount waits until at least n facts of type T after from satisfy
// pred, and returns them.
func WaitCount[T any](t testing.TB, f *Facts, from Mark, n int, timeout time.Duration, what string, pred func(*T) bool) []*T {
	t.Helper()
	var got []*T
	Eventually(t, timeout, fmt.Sprintf("%d × %s: %s", n, typeName[T](), what), func() bool {
		got = All(f, from, pred)
		return len(got) >= n
	})
	return got
}

func typeName[T any]() string { return fmt.Sprintf("%T", new(T)) }
