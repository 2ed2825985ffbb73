package actors

import (
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// The tree's well-known names: every actor path is spelled here and
// nowhere else.
const (
	RootName      = "root"
	PatrolName    = "patrol"
	RecorderName  = "recorder"
	ReaperName    = "reaper"
	AdmissionName = "admission"
	AlertsName    = "alerts"
	MetricsName   = "metrics"
	GatewayName   = "gateway"
	DetectorName  = "detector"
	PlaybackName  = "playback"
	HubName       = "hub"
	// MembershipName is the cluster membership (membership.go), in cluster mode only.
	MembershipName = "membership"
	MQTTName       = "mqtt"

	leaseName  = "lease/go2rtc"  // a camera's one live view
	streamName = "stream/ffmpeg" // a camera's stream-mode child
)

func subnetName(name string) string { return "subnet/" + name }
func cameraName(id string) string   { return "camera/" + id }
func ffmpegName(seq int64) string   { return "ffmpeg/" + strconv.FormatInt(seq, 10) }
func httpName(seq int64) string     { return "http/" + strconv.FormatInt(seq, 10) }
func clientName(seq int) string     { return "client/" + strconv.Itoa(seq) }

// CameraPath is the path of camera id's actor below the root.
func CameraPath(subnet, id string) string {
	return PatrolName + "/" + subnetName(subnet) + "/" + cameraName(id)
}

// SubnetPath is the path of a subnet's actor below the root.
func SubnetPath(name string) string { return PatrolName + "/" + subnetName(name) }

// kindOf names the kind of actor at path ("root/patrol/subnet/lab/camera/c1"
// → camera, "root/gateway" → gateway): the segment that names a numbered
// or named child, else the last one.
func kindOf(path string) string {
	segs := strings.Split(path, "/")
	if n := len(segs); n >= 2 {
		switch segs[n-2] {
		case "subnet", "camera", "ffmpeg", "http", "lease", "stream", "client":
			return segs[n-2]
		}
	}
	return segs[len(segs)-1]
}

// peers are the pids actors talk to across the tree. A restarted actor
// keeps its pid, so these hold for the tree's whole life.
type peers struct {
	system                                                                      *actor.ActorSystem
	root, patrol, recorder, reaper, admission, gateway, detector, playback, hub *actor.PID
	membership                                                                  *actor.PID
}

func newPeers(system *actor.ActorSystem) *peers {
	pid := func(name string) *actor.PID { return system.NewLocalPID(RootName + "/" + name) }
	return &peers{system: system, root: system.NewLocalPID(RootName), patrol: pid(PatrolName),
		recorder: pid(RecorderName), reaper: pid(ReaperName), admission: pid(AdmissionName), gateway: pid(GatewayName),
		detector: pid(DetectorName), playback: pid(PlaybackName), hub: pid(HubName), membership: pid(MembershipName)}
}

// subnet is the pid of a subnet's actor.
func (p *peers) subnet(name string) *actor.PID {
	return p.system.NewLocalPID(RootName + "/" + SubnetPath(name))
}

// camera is the pid of a camera's actor.
func (p *peers) camera(subnet, id string) *actor.PID {
	return p.system.NewLocalPID(RootName + "/" + CameraPath(subnet, id))
}
