// Package camsim simulates RTSP IP cameras for camvisor's tests.
//
// One Server listens on one TCP port and serves many cameras as paths
// (rtsp://127.0.0.1:8554/<name>). Each camera streams RFC 2435 RTP/JPEG or
// RFC 6184 RTP H.264 over TCP-interleaved RTSP that Debian's ffmpeg 5.1 can
// read, counts its own connections (open now, most ever open, accepted,
// refused), and can show the faults real cameras show: a connection limit
// answered with 453, hanging without answering, answering slowly, dropping
// the stream, or being down.
//
// An H.264 camera behaves as real ones do: a keyframe every GOP (2 s by
// default), SPS and PPS in the SDP's sprop-parameter-sets and before every
// keyframe, and a client that connects mid-GOP receives the P-frames that
// follow, so it has no complete picture before the next keyframe. Its
// frames are a loop encoded once (ffmpeg with libx264) per picture mode,
// frame rate and GOP, and shared by every camera with those settings.
//
// Cost is kept low enough to serve 1,000 cameras from one process: a camera
// nobody watches is a map entry; JPEG pictures are encoded lazily, one 16-pixel
// row of MCUs at a time, and spliced between JPEG restart markers, so the
// clock of a watched camera costs one row encode per second and the moving
// parts of the pictures are encoded once per server and shared by every
// camera. Each frame is cut into RTP packets once; connections only patch
// sequence number, timestamp and SSRC.
//
// A camera with Clock burns a large timestamp into its static or motion
// picture (the top left, changing every second), as real cameras do: the
// picture then differs from second to second in that corner only, which
// is what a motion mask is for.
//
// Because every camera shares one port, "nothing listening" cannot be
// simulated by a closed port: a camera marked Refuse reads the first request
// line (to learn the path) and resets the connection (SO_LINGER 0), which a
// client sees as "connection reset by peer" instead of "connection refused".
package camsim
