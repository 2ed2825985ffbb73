// Package messages holds every message camvisor's actors exchange: plain
// values with exported fields and no behaviour. Reading it tells every
// conversation in the system. It is split by audience:
//
//   - requests.go: what the program outside the tree (the HTTP API, through
//     the tree's facade) and the actors ask of each other, with the
//     answers. Requests read as commands (Capture, RestartCamera).
//   - facts.go: what happened, in the past tense (CaptureDone,
//     ProcessExited, CycleEnded), published on the actor system's event
//     stream, where the recorder, the hub, the alerts, the metrics and the
//     tests read them.
//   - protocol.go: messages internal to the tree, between an actor and its
//     children or a service it uses (an ffmpeg child's report, the
//     gateway's requests).
//   - values.go: the outcomes, stop reasons and states the messages carry
//     and the record stores as they are.
package messages
