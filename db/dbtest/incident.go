// Package dbtest writes records for the tests of the record's readers (the
// text and HTML reports, the API): the incident camvisor was built
// against, replayed through the same writer the recorder drives.
package dbtest

import (
	"fmt"
	"time"

	"camvisor/db"
	"camvisor/messages"
)

// The incident's shape: four cameras of one subnet patrolled every five
// minutes for four hours. After the first hour `attic` hangs and every
// cycle leaves one more ffmpeg behind (its timeout cancels the wait but
// kills nothing) until 32 of them hold the camera; the reaper kills them
// all 3 h 40 min in, after which each timeout kills its process.
// Meanwhile the machine slows and cycles overrun, `porch` starts failing
// after two hours and `garage` is sometimes out of slots.
const (
	Interval    = 5 * time.Minute
	Cycles      = 48
	LeakFrom    = 12 // attic's first leaking cycle
	Leaked      = 32 // processes that pile up on attic
	ReapCycle   = LeakFrom + Leaked
	CaptureTime = 300 * time.Millisecond
	HangTimeout = 30 * time.Second
)

// Cameras are the incident's cameras, each with a budget of 2.
var Cameras = []string{"attic", "front", "garage", "porch"}

// Incident writes the incident into a new record at path, its first cycle
// at start, and returns the os pids of attic's leaked processes.
func Incident(path string, start time.Time) ([]int, error) {
	s, err := db.Open(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cams := make([]db.RunCamera, len(Cameras))
	for i, c := range Cameras {
		cams[i] = db.RunCamera{ID: c, Subnet: "lab", URL: "rtsp://admin:***@10.0.0.1/" + c, MaxConnections: 2}
	}
	run, err := s.BeginRun(db.Run{Key: "incident-replay", Started: start.Add(-time.Second), PID: 4242, Version: "incident", Cameras: cams})
	if err != nil {
		return nil, err
	}
	pid := 10000
	var leaked []int
	var leakedAt []time.Time
	var facts []any
	flush := func() error {
		err := s.WriteBatch(run, facts)
		facts = facts[:0]
		return err
	}
	alert := func(rule, subject, state string, first, at time.Time, detail string) {
		a := &messages.AlertChanged{Rule: rule, Subject: subject, State: state, FirstSeen: first, LastSeen: at, Detail: detail}
		if state == messages.AlertResolved {
			a.ResolvedAt = at
		}
		facts = append(facts, a)
	}
	var budgetFired, failingFired, overrunFired time.Time
	for n := range Cycles {
		t0 := start.Add(time.Duration(n) * Interval)
		ok, failed, timedOut := 0, 0, 0
		end := t0.Add(2 * time.Second)
		for i, cam := range Cameras {
			at := t0.Add(time.Duration(i) * 400 * time.Millisecond)
			capture := &messages.CaptureDone{Key: fmt.Sprintf("%s-1-%d", cam, n+1), Camera: cam, Subnet: "lab", Cycle: int64(n + 1),
				Via: "ffmpeg", Attempts: 1, StartedAt: at}
			proc := func(ended time.Time, code int, reason messages.StopReason, signal string) {
				pid++
				capture.OSPID = pid
				facts = append(facts, &messages.ProcessStarted{OSPID: pid, Camera: cam, Subnet: "lab", Purpose: "snapshot",
					Owner: fmt.Sprintf("root/patrol/subnet/lab/camera/%s/ffmpeg/%d", cam, n+1), Argv: []string{"ffmpeg", "-i", "rtsp://admin:***@10.0.0.1/" + cam},
					StartedAt: at, Deadline: at.Add(HangTimeout)})
				if reason != "" {
					facts = append(facts, &messages.ProcessExited{OSPID: pid, Camera: cam, Subnet: "lab", ExitCode: code, Signal: signal,
						StopReason: reason, StartedAt: at, EndedAt: ended})
				}
			}
			switch {
			case cam == "attic" && n >= LeakFrom:
				capture.Outcome, capture.Error, capture.EndedAt = messages.OutcomeTimeout, "capture deadline passed", at.Add(HangTimeout)
				if n < ReapCycle {
					proc(time.Time{}, 0, "", "") // the leak: nobody kills it
					leaked, leakedAt = append(leaked, pid), append(leakedAt, at)
				} else {
					proc(at.Add(HangTimeout), -1, messages.StopTimeout, "SIGKILL")
				}
				timedOut++
				end = capture.EndedAt
			case cam == "garage" && n%6 == 5:
				capture.Outcome, capture.Error, capture.EndedAt = messages.OutcomeNoSlot, "no free slot", at.Add(time.Second)
				failed++
			case cam == "porch" && n >= 24 && n%2 == 0:
				capture.EndedAt = at.Add(CaptureTime)
				capture.Outcome, capture.Error = messages.OutcomeExit, "ffmpeg exited 1: Connection refused"
				proc(capture.EndedAt, 1, messages.StopDone, "")
				failed++
			default:
				capture.EndedAt = at.Add(CaptureTime)
				capture.Outcome, capture.Bytes = messages.OutcomeOK, 40000
				proc(capture.EndedAt, 0, messages.StopDone, "")
				ok++
			}
			facts = append(facts, capture)
		}
		// The leaked processes slow the machine: cycles overrun.
		overran := n >= 30 && n < ReapCycle
		if overran {
			end = t0.Add(Interval + 40*time.Second)
		}
		facts = append(facts, &messages.CycleEnded{Subnet: "lab", Number: int64(n + 1), StartedAt: t0, EndedAt: end, Interval: Interval,
			OK: ok, Failed: failed, TimedOut: timedOut, Overran: overran})
		// One census a minute: attic's leaked processes as /proc shows them.
		for m := range 5 {
			at := t0.Add(time.Duration(m)*time.Minute + 30*time.Second)
			alive := 0
			for i := range leaked {
				if !leakedAt[i].After(at) && n < ReapCycle {
					alive++
				}
			}
			census := &messages.ProcessCensus{At: at}
			for _, cam := range Cameras {
				c := messages.CameraCensus{Camera: cam, Subnet: "lab", MaxConnections: 2}
				if cam == "attic" {
					c.Processes = alive
				}
				census.Cameras = append(census.Cameras, c)
			}
			facts = append(facts, census)
			if alive > 2 && budgetFired.IsZero() {
				budgetFired = at
				alert("process_budget_exceeded", "attic", messages.AlertFiring, at, at, fmt.Sprintf("%d ffmpeg processes, max_connections 2", alive))
			}
		}
		if n == LeakFrom+2 {
			failingFired = end
			alert("camera_failing", "attic", messages.AlertFiring, end, end, "3 captures failed in a row: capture deadline passed")
		}
		if overran && overrunFired.IsZero() {
			overrunFired = end
			alert("cycle_overrun", "lab", messages.AlertFiring, end, end, "cycle took longer than its interval")
		}
		if n == ReapCycle {
			at := t0.Add(-Interval / 2)
			for _, p := range leaked {
				facts = append(facts, &messages.ProcessReaped{OSPID: p, Run: "incident-replay", Camera: "attic", ThisRun: true, At: at})
			}
			alert("process_budget_exceeded", "attic", messages.AlertResolved, budgetFired, at, "")
			alert("cycle_overrun", "lab", messages.AlertResolved, overrunFired, end, "")
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	_ = failingFired // attic is still failing when the record ends
	if err := s.EndRun(run, start.Add(Cycles*Interval), "terminated"); err != nil {
		return nil, err
	}
	return leaked, nil
}
