package messages

import "time"

// The cluster's conversations (actors/membership.go; actors/CLUSTER.md):
// the membership actor holds the node's etcd session and decides which
// cameras this node runs; the subnets start and stop their camera actors
// on its word.

// OwnCamera tells a subnet that this node owns Camera (etcd epoch Epoch)
// and has waited out the takeover delay: its actor may start.
type OwnCamera struct {
	Camera string
	Epoch  int64
}

// DisownCamera tells a subnet to stop Camera's actor now, every process
// killed and reaped (stop reason Reason). It is answered with
// CameraDisowned once the actor is gone (at once when none ran).
type DisownCamera struct {
	Camera string
	Reason StopReason // StopFenced or StopHandedOver
	Why    string
}

// CameraDisowned answers DisownCamera: the camera's actor and its
// processes are gone.
type CameraDisowned struct {
	Camera string
}

// GetCluster asks the membership for a ClusterView.
type GetCluster struct{}

// ClusterView is the cluster as this node sees it now.
type ClusterView struct {
	Node    string // this node
	Members []ClusterMember
	Cameras []CameraOwner // every camera of this node's configuration
	// Requests is how many requests this node sent etcd so far (its own
	// count: what the cluster costs etcd).
	Requests int64
}

// ClusterMember is one node of the cluster.
type ClusterMember struct {
	Node    string
	URL     string // where its API is reached
	Healthy bool   // it holds a live lease (this node: and has not lost it)
	Cameras int    // the cameras it owns
}

// CameraOwner is who owns a camera: Owner "" when no node does.
type CameraOwner struct {
	ID    string
	Owner string
	Epoch int64  // the etcd revision of its key; 0 when unowned (or single-node)
	URL   string // the owner's API, "" when unowned
	Local bool   // this node owns it
	// StartsIn, for a camera this node owns whose actor has not started
	// yet: the takeover delay left (0 when its actor may run).
	StartsIn time.Duration
}

// Membership states (MembershipChanged.State).
const (
	MembershipJoining = "joining" // asking etcd for a lease
	MembershipMember  = "member"  // holds a lease; runs its cameras
	MembershipFenced  = "fenced"  // may have lost its lease: stopping every camera, then rejoining
	MembershipLeft    = "left"    // shut down: cameras released, lease revoked
)

// MembershipChanged is a fact: this node's place in the cluster changed
// (its state, the members it sees, the cameras it owns).
type MembershipChanged struct {
	Node    string
	State   string // MembershipJoining, ...
	Members int    // live members seen, this one included; 0 while not a member
	Owned   int    // cameras this node owns
	Lease   int64
	Error   string // why it is not a member, when it is not
	At      time.Time
}

// Ownership changes (OwnershipChanged.Change).
const (
	OwnershipAcquired = "acquired" // this node won the camera's key
	OwnershipReleased = "released" // it gave the camera up cleanly (hand-over)
	OwnershipFenced   = "fenced"   // it stopped the camera because its lease may be lost
	OwnershipLost     = "lost"     // its key was gone or taken while it held the camera
)

// OwnershipChanged is a fact: this node took or gave up a camera. Rows the
// camera's actor writes meanwhile carry Node and Epoch.
type OwnershipChanged struct {
	Camera string
	Subnet string
	Node   string
	Epoch  int64
	Change string // OwnershipAcquired, ...
	Reason string
	// Wait is the takeover delay an acquisition waited before its actor
	// started (0: the previous owner handed it over cleanly).
	Wait time.Duration
	// Began is, for a release, when the node began giving the camera up
	// (stopping its actor).
	Began time.Time
	At    time.Time
}

// CameraUnowned is a fact: a configured camera has been owned by no node
// for more than twice the lease ttl (Unowned), or has an owner again.
type CameraUnowned struct {
	Camera  string
	Unowned bool
	Since   time.Time
	At      time.Time
}
