package actors

import (
	"runtime"
	"runtime/debug"
)

// Build is what the Go toolchain stamped into the binary: the module
// version (a tag, or a pseudo-version from the commit) and the VCS
// revision, read without any -ldflags.
type Build struct {
	Version   string // v1.2.3, v0.0.0-20261130…-abcdef012345, or "(devel)"
	Revision  string // the commit, "+dirty" when the tree had changes; "" when unknown
	Time      string // the commit's time
	GoVersion string
}

// ReadBuild reads the binary's build information.
func ReadBuild() Build {
	b := Build{Version: "(devel)", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if info.Main.Version != "" {
		b.Version = info.Main.Version
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if b.Revision != "" && dirty {
		b.Revision += "+dirty"
	}
	return b
}
