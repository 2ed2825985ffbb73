package actors

import (
	"net"
	"time"

	"camvisor/messages"

	"github.com/asynkron/protoactor-go/actor"
)

// hubActor fans facts out to every dashboard over its WebSocket: events,
// playback (play, stop), camera state, cycles and alerts, in the wire
// format Env.Wire gives (the HTTP API's, documented with it). Each
// dashboard is a child client actor with a bounded send queue; one that
// falls behind is dropped and the others, and the patrol, never wait for
// it. A new client first gets what plays right now, asked of the playback
// policy; history is never replayed as play. The hub shows the cameras
// that run: one a reload removed is forgotten, however late its last facts
// come.
type hubActor struct {
	life
	env     *Env
	clients map[string]*actor.PID
	seq     int

	cameras map[string]*CameraView // latest state, for camera messages
	dirty   map[string]bool        // changed since the last flush
	running map[string]bool        // the cameras of the running configuration, as last read
	flush   *time.Timer

	admission *messages.AdmissionChanged // the latest, sent at the next flush when set
}

// Wire is the dashboards' wire format. It lives with the HTTP API (web),
// which documents it; the hub only moves its bytes.
type Wire interface {
	// Encode is the message a dashboard receives for a fact, a
	// *CameraView or a ClientPong; false for what is not pushed.
	Encode(v any) ([]byte, bool)
	// Decode turns what a dashboard sent into a command: a
	// *messages.StopPlayback or a ClientPing; an error closes the
	// connection with it as the reason.
	Decode(data []byte) (any, error)
}

// CameraView is a camera's state as the dashboards show it, folded from
// its facts.
type CameraView struct {
	Camera, Subnet      string
	SlotsFFmpeg         int
	SlotsGo2RTC         int
	SlotsLease          int
	SlotsExternal       int
	MaxConnections      int
	Queue               int
	Failing             bool // its breaker is open
	ConsecutiveFailures int
	NextProbe           time.Time
	Busy                bool
	// State is the camera's state (messages.StateRunning, StatePaused,
	// ...), empty until its actor said; Pause is its pause while paused.
	State         string
	Pause         *messages.Pause
	LastOutcome   messages.Outcome
	LastVia       string
	LastCaptureAt time.Time
	LastCapture   time.Duration
	LastError     string
	// FrameAt is when the camera's latest frame was taken; zero before
	// its first: a dashboard asks for the snapshot only when there is one.
	FrameAt time.Time
	// Recent are the camera's last captures, oldest first (at most
	// RecentCaptures): the card's outcomes strip.
	Recent []RecentCapture
}

// RecentCaptures is how many of a camera's last captures its view keeps.
const RecentCaptures = 20

// RecentCapture is one capture of a camera's outcomes strip.
type RecentCapture struct {
	Outcome  messages.Outcome
	Via      string
	At       time.Time // when it ended
	Duration time.Duration
}

// ClientPing is a dashboard's keep-alive; the hub answers ClientPong.
type (
	ClientPing struct{}
	ClientPong struct{}
)

// Socket is a dashboard's WebSocket as the client actors use it
// (gorilla's *websocket.Conn satisfies it). The hub owns it once joined.
type Socket interface {
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
	RemoteAddr() net.Addr
}

// joinHub hands a dashboard's WebSocket to the hub (Tree.Join); the hub
// answers hubJoined once its client actor runs.
type (
	joinHub struct {
		socket Socket
		remote string // for the log
	}
	hubJoined struct{ client string }
)

type flushCameras struct{}

func hubProps(env *Env) *actor.Props {
	return actor.PropsFromProducer(lived(func() *hubActor {
		return &hubActor{env: env, clients: map[string]*actor.PID{}, cameras: map[string]*CameraView{}, dirty: map[string]bool{}}
	}))
}

// hubWants are the facts the root subscribes the hub to.
func hubWants(evt any) bool {
	switch evt.(type) {
	case *messages.EventOpened, *messages.EventUpdated, *messages.PlaybackStarted, *messages.PlaybackStopped, *messages.CycleEnded,
		*messages.SlotsChanged, *messages.CameraStateChanged, *messages.CaptureDone, *messages.AlertChanged,
		*messages.AdmissionChanged, *messages.ConfigReloaded:
		return true
	}
	return false
}

// Receive fans the pushed facts out to the dashboards' client actors.
func (a *hubActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *joinHub:
		a.onJoinHub(ctx, msg)
	case *actor.Terminated:
		a.onTerminated(msg)
	case *flushCameras:
		a.onFlushCameras(ctx)
	case *messages.Describe:
		answerDescribe(ctx, a.node(ctx, "hub", "running", map[string]any{"clients": len(a.clients)}))
	case *actor.Stopping, *actor.Restarting:
		if a.flush != nil {
			a.flush.Stop()
		}
	case *messages.ConfigReloaded:
		a.onConfigReloaded(ctx, msg)
	default:
		a.onFact(ctx, msg)
	}
}

// onJoinHub asks the playback policy what plays right now, then spawns a
// client actor that owns the socket and sends that state, and the cameras',
// before anything else. History is never replayed as play.
func (a *hubActor) onJoinHub(ctx actor.Context, msg *joinHub) {
	joiner := ctx.Sender()
	f := ctx.RequestFuture(a.env.peers.playback, &messages.GetPlaybacks{}, a.env.Policy.DescribeTimeout)
	ctx.ReenterAfter(f, func(res any, err error) {
		var initial [][]byte
		for _, c := range a.cameras {
			if data, ok := a.encode(c); ok {
				initial = append(initial, data)
			}
		}
		if live, ok := res.(*messages.Playbacks); ok && err == nil {
			for i := range live.Live {
				if data, ok := a.encode(&live.Live[i]); ok {
					initial = append(initial, data)
				}
			}
		}
		a.seq++
		pid, err := ctx.SpawnNamed(wsClientProps(a.env, msg.socket, msg.remote, initial), clientName(a.seq))
		if err != nil {
			msg.socket.Close()
			return
		}
		a.clients[pid.Id] = pid
		if joiner != nil {
			ctx.Send(joiner, &hubJoined{client: pid.Id})
		}
	})
}

func (a *hubActor) onTerminated(msg *actor.Terminated) {
	delete(a.clients, msg.Who.Id)
}

// onConfigReloaded forgets the cameras the reload removed (their last
// state would be sent to every dashboard that connects from now on), then
// tells the dashboards.
func (a *hubActor) onConfigReloaded(ctx actor.Context, msg *messages.ConfigReloaded) {
	a.readRunning()
	for camera := range a.cameras {
		if !a.running[camera] {
			delete(a.cameras, camera)
			delete(a.dirty, camera)
		}
	}
	a.onFact(ctx, msg)
}

// runs reports whether camera is in the running configuration, read again
// when it is not known: a reload's new cameras may speak before its fact
// arrives, a removed one after.
func (a *hubActor) runs(camera string) bool {
	if !a.running[camera] {
		a.readRunning()
	}
	return a.running[camera]
}

// readRunning reads the cameras of the running configuration.
func (a *hubActor) readRunning() {
	a.running = map[string]bool{}
	for _, c := range a.env.Current().Cameras() {
		a.running[c.ID] = true
	}
}

// onFact turns a fact into a message for every client.
func (a *hubActor) onFact(ctx actor.Context, fact any) {
	if a.noteCamera(ctx, fact) {
		return
	}
	if m, ok := fact.(*messages.AdmissionChanged); ok {
		// Grants change with every capture: coalesced like the cameras,
		// and not kept for a dashboard that joins later.
		if len(a.clients) > 0 {
			a.admission = m
			a.scheduleFlush(ctx)
		}
		return
	}
	if len(a.clients) == 0 {
		return // nobody watches: nothing to encode
	}
	data, ok := a.encode(fact)
	if !ok {
		return
	}
	a.broadcast(ctx, data)
}

// encode is the wire message for v; nothing without a wire format.
func (a *hubActor) encode(v any) ([]byte, bool) {
	if a.env.Wire == nil {
		return nil, false
	}
	return a.env.Wire.Encode(v)
}

func (a *hubActor) broadcast(ctx actor.Context, data []byte) {
	for _, pid := range a.clients {
		ctx.Send(pid, &outbound{data: data})
	}
}

// noteCamera folds camera facts into the camera's view, flushed later.
func (a *hubActor) noteCamera(ctx actor.Context, fact any) bool {
	var camera, subnet string
	var apply func(v *CameraView)
	switch m := fact.(type) {
	case *messages.SlotsChanged:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *CameraView) {
			v.SlotsFFmpeg, v.SlotsGo2RTC, v.SlotsLease, v.SlotsExternal = m.FFmpeg, m.Go2RTC, m.Leases, m.External
			v.MaxConnections, v.Queue = m.MaxConnections, m.QueueLength
		}
	case *messages.CameraStateChanged:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *CameraView) {
			v.Failing, v.ConsecutiveFailures, v.NextProbe, v.Busy = m.Failing, m.ConsecutiveFailures, m.NextProbe, m.Busy
			v.State, v.Pause = m.State, m.Pause
		}
	case *messages.CaptureDone:
		camera, subnet = m.Camera, m.Subnet
		apply = func(v *CameraView) {
			v.LastOutcome, v.LastError, v.LastVia = m.Outcome, m.Error, m.Via
			v.LastCaptureAt, v.LastCapture = m.EndedAt, m.EndedAt.Sub(m.StartedAt)
			if m.Outcome == messages.OutcomeOK && m.Bytes > 0 {
				v.FrameAt = m.EndedAt
			}
			// A fresh slice each time: an encoded view may still be read.
			keep := v.Recent
			if len(keep) >= RecentCaptures {
				keep = keep[len(keep)-RecentCaptures+1:]
			}
			v.Recent = append(append(make([]RecentCapture, 0, len(keep)+1), keep...),
				RecentCapture{Outcome: m.Outcome, Via: m.Via, At: m.EndedAt, Duration: m.EndedAt.Sub(m.StartedAt)})
		}
	default:
		return false
	}
	if !a.runs(camera) {
		return true // a camera a reload removed: its last facts show nowhere
	}
	v := a.cameras[camera]
	if v == nil {
		v = &CameraView{Camera: camera, Subnet: subnet}
		a.cameras[camera] = v
	}
	apply(v)
	if len(a.clients) > 0 { // else a dashboard that joins gets every view (onJoinHub)
		a.dirty[camera] = true
		a.scheduleFlush(ctx)
	}
	return true
}

// onFlushCameras sends the views that changed since the last flush. With
// no dashboard open nothing is encoded: the views are kept folded, and a
// dashboard that joins gets them all (onJoinHub).
func (a *hubActor) onFlushCameras(ctx actor.Context) {
	a.flush = nil
	if len(a.clients) == 0 {
		clear(a.dirty)
		a.admission = nil
		return
	}
	for camera := range a.dirty {
		if data, ok := a.encode(a.cameras[camera]); ok {
			a.broadcast(ctx, data)
		}
	}
	clear(a.dirty)
	if a.admission != nil {
		if data, ok := a.encode(a.admission); ok {
			a.broadcast(ctx, data)
		}
		a.admission = nil
	}
}

// scheduleFlush arms the next flush of coalesced state.
func (a *hubActor) scheduleFlush(ctx actor.Context) {
	if a.flush == nil {
		a.flush = after(ctx.ActorSystem(), ctx.Self(), a.env.Policy.Hub.CameraFlush, &flushCameras{})
	}
}
