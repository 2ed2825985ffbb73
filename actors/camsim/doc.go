// Package camsim simulates RTSP IP cameras for camvisor's tests.
//
// One Server listens on one TCP port and serves many cameras as paths
// (rtsp://127.0.0.1:8554/<name>). Each camera streams RFC 2435 RTP/JPEG over
// TCP-interleaved RTSP that Debian's ffmpeg 5.1 can read, counts its own
// connections (open now, most ever open, accepted, refused), and can show the
// faults real cameras show: a connection limit answered with 453, hanging
// without answering, answering slowly, dropping the stream, or being down.
//
// Cost is kept low enough to serve 1,000 cameras from one process: a camera
// nobody watches is a map entry; pictures are encoded lazily, one 16-pixel
// row of MCUs at a time, and spliced between JPEG restart markers, so the
// clock of a watched camera costs one row encode per second and the moving
// parts of the pictures are encoded once per server and shared by every
// camera. Each frame is cut into RTP packets once; connections only patch
// sequence number, timestamp and SSRC.
//
// Because every camera shares one port, "nothing listening" cannot be
// simulated by a closed port: a camera marked Refuse reads the first request
// line (to learn the path) and resets the connection (SO_LINGER 0), which a
// client sees as "connection reset by peer" instead of "connection refused".
package camsim
