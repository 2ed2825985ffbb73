package web

import (
	"embed"
	"io/fs"
)

// The dashboard: plain HTML, CSS and JavaScript embedded in the binary, no
// build step.
//
//go:embed static
var static embed.FS

func staticFS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed above guarantees the directory
	}
	return sub
}
