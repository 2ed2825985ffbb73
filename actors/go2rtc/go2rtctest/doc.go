// Package go2rtctest runs a stand-in for go2rtc's HTTP API in tests, the way
// net/http/httptest runs an HTTP server: New starts one on 127.0.0.1 and
// stops it when the test ends. camvisor's gateway talks to go2rtc, which
// cannot be installed on our machines, so its tests run against this
// stand-in instead. It is test code and never part of the server.
//
// It answers as the real go2rtc does, quirks included, as observed against
// go2rtc built from its March 2026 source (where an observation and this
// stand-in disagree, the observation wins and the stand-in is mended):
//
//   - /api/streams: PUT, PATCH, GET and DELETE with go2rtc's status codes and
//     bodies. DELETE ?name=N is a silent no-op that returns the list; only
//     DELETE ?src=N removes. PUT writes the stream into a pretend config
//     file (Server.ConfigFile), PATCH does not. Refusals are go2rtc's
//     http.Error answers, so their bodies end in a newline.
//   - /api/frame.jpeg?src=N: the next JPEG from the camera, or, when the
//     camera refuses or never answers, a 200 with an empty body and no
//     Content-Type. A camera that stalls after connecting leaves the request
//     waiting until the client gives up.
//   - /stream.html?src=N and the WebSocket /api/ws?src=N it opens: a live
//     viewer for as long as the WebSocket is open.
//   - Camera connections: a stream holds exactly one RTSP connection (made
//     with camsim's client, camsim.Dial) while it has consumers, shared by all
//     of them, and none otherwise. Stream objects are kept apart from names,
//     so a stream deleted or replaced while watched keeps its connection
//     until its last consumer leaves.
//   - Two REST API requests in flight at once fail the test: a real go2rtc
//     crashed on that.
//
// # Sources
//
// A source's scheme is what precedes its first colon, compared as go2rtc
// does (case-sensitive). Accepted: rtsp, rtsps, rtspx, rtmp, rtmps, rtmpx,
// http, https, httpx, tcp, ffmpeg, onvif, isapi, dvrip, homekit, webrtc,
// webtorrent, hass, tapo, kasa, gopro, ivideon, nest, roborock, v4l2 and
// alsa. exec, echo and expr are known but refused as insecure producers;
// anything else is "source not supported". Only rtsp:// sources are ever
// dialled, because camsim speaks RTSP; a stream whose sources are all of
// another scheme registers fine and fails every consumer (frame.jpeg 200 and
// empty, viewers an error message).
//
// # Where the stand-in simplifies
//
//   - A camera connection that fails, at dial or later, fails every consumer
//     attached to it; the next consumer dials again. go2rtc would retry a
//     connection that broke mid-stream.
//   - PATCH with an existing name replaces its sources on the same stream
//     object (its consumers and connection stay); PATCH whose src names
//     another stream (go2rtc's aliases) is not modelled and is refused as an
//     unsupported source. POST (redirect to dst) answers 400.
//     PATCH refuses sources with PUT's messages.
//   - A request the client abandons while SetDelay holds it is dropped
//     without effect.
//
// # Catching overlapping requests
//
// A REST request is in flight from its arrival until its answer is on its
// way, so a client that sends the next request as soon as it has read the
// previous answer is never reported. Two truly concurrent requests that are
// each answered within microseconds can slip through unseen; a test that
// means to prove its client never overlaps sets SetDelay, which holds every
// answer and widens the window.
package go2rtctest
