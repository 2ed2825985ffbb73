// Package rtsprelay keeps camera passwords off ffmpeg's command line and
// keeps ffmpeg on its camera. It is a loopback RTSP relay inside camvisor:
// a capture opens a Path for its camera's URL and gives ffmpeg the Path's
// URL, which holds no credentials; ffmpeg connects to the relay, the relay
// connects to the camera, answers the camera's Basic or Digest challenge
// itself and then passes the interleaved RTP through untouched.
//
// # One process, one camera connection
//
// A Path serves one process for its whole life, snapshot or stream: each
// connection the process opens gets exactly one camera connection, opened
// when the process connects and closed when either side closes, and at
// most one at a time (a camera's slot budget counts one connection per
// process). A process that closes its connection and opens the next at
// once is served once the first one's camera socket is closed (waited for
// up to Options.ReleaseWait), not refused. Closing the Path (the owning
// actor's stop, whatever the reason) closes both ends of its connection
// and returns once the camera side is closed, so a freed slot is a closed
// camera connection.
//
// # Who may connect
//
// The relay listens on 127.0.0.1 only. A Path's URL is unguessable (128
// random bits) but visible in the process's command line to every local
// user, so the relay also asks the kernel (sock_diag) about the socket at
// the other end of each connection it accepts and serves it only if that
// socket is established, held by a process (it has an inode) and owned by
// camvisor's user (Options.AllowUID). A client that closed before the
// check leaves a socket no process holds, which the kernel reports as uid
// 0: it is refused, also when camvisor runs as root. A process of the same
// user could read camvisor's memory and configuration anyway.
//
// Refusals (a user not allowed, an unknown path) are logged at most once
// a minute per source (the client's uid), with the count of those left
// out: anyone on the machine can connect, and must not flood the log.
//
// # Redirects
//
// A camera's 3xx never reaches ffmpeg. ffmpeg follows a redirect on its
// own, to any host, in schemes the relay would not see (satip:// among
// them), which would take it past the relay and the slot budget. The
// relay instead follows a redirect itself when it stays on the camera's
// own scheme, host and port (another path of the same camera), on its own
// camera connection and with the camera's credentials, at most 3 times for
// a request; it answers any other redirect (another host or port, another
// scheme, a loop) with "502 relay: the camera redirected the request …",
// which ffmpeg reports, and logs its target's scheme and host. A Location
// field is dropped from everything passed on, and every absolute URL, of
// any scheme, in Content-Base, Content-Location, RTP-Info and the body
// (the SDP, whatever its Content-Type, or none) is rewritten to the
// relay's, so ffmpeg's requests come back to the relay. ffmpeg itself runs
// with -protocol_whitelist (actors/ffmpeg.go), so nothing a camera names
// makes it open a file or an HTTP URL. camvisor reads every camera through
// a Path, with a secret in its URL or not, so this holds for all of them.
//
// # Credentials
//
// The camera's credentials stay in the relay. Once the relay answered a
// Digest challenge on a connection, a camera asking for Basic gets no
// answer (camauth: no downgrade); the 401 goes to ffmpeg. A camera URL's
// query and a path that holds a password (/user=admin_password=…, as
// cheap cameras take it) are replaced in everything ffmpeg sees by
// stand-ins (?camvisor-query, /camvisor-path) that the relay turns back on
// the way to the camera. The camera's credentials in any form it may echo
// (the password, escaped, the base64 of user:pass, a Digest answer's
// proof) are scrubbed from its answers before ffmpeg, which prints a
// status line's reason, sees them.
//
// # Bounded input
//
// An RTSP message from either side is read with bounded lines (16 KiB from
// ffmpeg, one buffer of 68 KiB from the camera), at most 64 header lines
// and a body of at most 256 KiB; anything beyond ends the connection and
// answers the process's requests in flight with 502 and why. A camera that
// trickles, stalls or floods is ended by the capture's deadline: the
// owning actor kills its ffmpeg and closes the Path.
package rtsprelay
