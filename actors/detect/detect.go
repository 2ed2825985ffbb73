// Package detect holds the detector actor's two back ends: Motion, built
// in, which compares each camera's snapshot with its previous one, and
// HTTP, a client of an object-detection server speaking the DeepStack /
// CodeProject.AI API. Both turn one JPEG into Detections; what becomes an
// event (score and label filters, merging) is decided by the caller.
package detect

import (
	"errors"
	"image"
)

// Detection is one thing found in a frame.
type Detection struct {
	Label string          // "motion" for the motion detector; the model's label for http
	Score float64         // 0..1
	Box   image.Rectangle // in the frame's pixel coordinates
}

// MotionLabel is the Label of every detection Motion reports.
const MotionLabel = "motion"

// Sentinel errors callers branch on. Every error a detector returns wraps
// at most one of them and says in its text what happened.
var (
	// ErrBadImage: the frame is empty or not a decodable JPEG; the camera
	// (or the capture) is at fault, not the detector.
	ErrBadImage = errors.New("frame is not a decodable JPEG")
	// ErrTimeout: the detector did not answer within detector.timeout (or
	// the caller's deadline).
	ErrTimeout = errors.New("detector timeout")
	// ErrUnreachable: no conversation with the detector was possible:
	// connection refused, no route, DNS failure, connection reset, TLS
	// failure.
	ErrUnreachable = errors.New("detector unreachable")
	// ErrStatus: the detector answered with a non-2xx HTTP status.
	ErrStatus = errors.New("detector answered with an error status")
	// ErrTooLarge: the answer is longer than HTTPOptions.MaxBody; it was
	// not read further.
	ErrTooLarge = errors.New("detector answer too large")
	// ErrBadAnswer: the answer is not the API's JSON, says success false,
	// or holds an invalid prediction; or the detector redirected elsewhere.
	ErrBadAnswer = errors.New("detector gave a bad answer")
)
