package messages

import (
	"net"
	"time"
)

// Socket is a dashboard's WebSocket as the hub's client actors use it
// (gorilla's *websocket.Conn satisfies it).
type Socket interface {
	ReadMessage() (messageType int, p []byte, err error)
	WriteMessage(messageType int, data []byte) error
	WriteControl(messageType int, data []byte, deadline time.Time) error
	SetWriteDeadline(t time.Time) error
	Close() error
	RemoteAddr() net.Addr
}

// JoinHub hands a dashboard's WebSocket to the hub, which owns it from
// then on. The hub answers the sender with HubJoined.
type JoinHub struct {
	Socket Socket
	Remote string // for the log
}

// HubJoined answers JoinHub.
type HubJoined struct {
	Client string // the client actor's name
}

// ClientCommand is a validated message a dashboard sent.
type ClientCommand struct {
	Client string
	Type   string // "stop"
	Camera string
}

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
