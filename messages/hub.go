package messages

// ClientJoined is the fact that a dashboard connected and its client
// actor runs.
type ClientJoined struct {
	Client string
	Remote string
}

// ClientLeft is the fact that a dashboard disconnected or was dropped.
type ClientLeft struct {
	Client string
	Reason string
}
