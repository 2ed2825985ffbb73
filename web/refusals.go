package web

import (
	"log/slog"
	"sync"
	"time"
)

// refusalLog bounds the log lines that refusals cost: a stranger who
// sends wrong tokens or forged origins as fast as it can must not flood
// the log. Per client and kind of refusal it writes at most
// refusalLogBurst lines per refusalLogEvery; the rest are counted, and the
// count is logged with the first refusal of the next window. Values a
// request brings are clipped by the caller (clip).
type refusalLog struct {
	log *slog.Logger

	mu      sync.Mutex // HTTP handlers run concurrently
	windows map[refusalKey]*refusalWindow
}

type refusalKey struct{ client, msg string }

type refusalWindow struct {
	start time.Time
	lines int // written in this window
	quiet int // refusals not written in this window
}

const (
	refusalLogBurst = 5
	refusalLogEvery = time.Minute
)

func newRefusalLog(log *slog.Logger) *refusalLog {
	return &refusalLog{log: log, windows: map[refusalKey]*refusalWindow{}}
}

// warn logs a refusal of client's request as msg with args, within the
// client's allowance of lines.
func (l *refusalLog) warn(client, msg string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	k := refusalKey{client, msg}
	w := l.windows[k]
	if w == nil || now.Sub(w.start) >= refusalLogEvery {
		if w != nil && w.quiet > 0 {
			l.log.Warn(msg+": more not logged", "remote", client, "count", w.quiet, "within", refusalLogEvery.String())
		}
		if w == nil && len(l.windows) >= maxClients {
			for k, old := range l.windows {
				if now.Sub(old.start) >= refusalLogEvery {
					delete(l.windows, k)
				}
			}
		}
		w = &refusalWindow{start: now}
		l.windows[k] = w
	}
	if w.lines >= refusalLogBurst {
		w.quiet++
		return
	}
	w.lines++
	l.log.Warn(msg, append([]any{"remote", client}, args...)...)
}
