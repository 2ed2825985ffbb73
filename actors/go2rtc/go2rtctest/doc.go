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
//     crashed on that. RequestLog has every request with its arrival time.
//
// # Sources
//
// A source's scheme is what precedes its first colon, compared as go2rtc
// does (case-sensitive). Accepted: rtsp, rtsps, rtspx, rtmp, rtmps, rtmpx,
// http, https, httpx, tcp, ffmpeg, onvif, isapi, dvrip, homekit, webrtc,
// webtorrent, hass, tapo, kasa, gopro, ivideon, nest, roborock, v4l2 and
// alsa. exec, echo and expr are known but refused as insecure producers;
// anything else is "source not supported". The kinds a camera is read
// with are dialled (camsim speaks RTSP, so each ends as an RTSP connection
// to camsim); a stream whose sources are all of another kind registers
// fine and fails every consumer (frame.jpeg 200 and empty, viewers an
// error message).
//
// A producer is listed idle as {"url": <its source as written, user and
// password as ***>}, and while connected as below. Rows marked seen are
// how a real go2rtc (1.9.14+dev, December 2026) listed them; the others
// are assumed from go2rtc's source code, because no Tapo or ONVIF device
// was at hand to watch: its tapo producer marshals its format, protocol
// and the address of its HTTP connection (port 8800 unless the URL names
// one) and no URL, and its onvif source asks the device for an RTSP URL
// and opens an ordinary rtsp producer on it.
//
//	source                      dialled as                        listed while connected
//	rtsp://…                    itself                            url as written, remote_addr host:port, format_name rtsp (seen)
//	rtsps://…, rtspx://…        rtsp:// to the same host, port    url as written, remote_addr host:port, format_name rtsp
//	                            (554 when none: go2rtc's default) (no TLS: camsim has none; go2rtc would, rtspx without verifying)
//	ffmpeg:<rtsp URL>#…         the URL inside                    url the URL inside, source "exec:ffmpeg … -i <it> …",
//	                                                              remote_addr "127.0.0.1:<n> forwarded host:port" (seen)
//	onvif://…@host:port         the Device's RTSP URL for host     url that RTSP URL, remote_addr its host:port, format_name rtsp (assumed)
//	tapo://…@host[:port]        the Device's RTSP URL for host     no url; format_name tapo, protocol http, remote_addr host:8800 (assumed)
//
// Device(host, rtspURL) says which camera a tapo or onvif source naming
// host reaches. Configure(name, srcs...) gives the stand-in a stream as
// go2rtc's own config file does (an operator's, Home Assistant's), with no
// API request, so a test may add or take one out while camvisor's
// requests are in flight.
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
