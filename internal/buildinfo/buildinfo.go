// Package buildinfo says which build of the daemon is running: the version
// stamped at link time, the source commit and the Go version, both read from
// the build information the Go toolchain embeds in every binary.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version. Builds set it with
//
//	go build -ldflags "-X github.com/milvus-cdc/milvus-cdc/internal/buildinfo.Version=v1.2.3"
//
// (make build does, from git describe); otherwise it stays "dev".
var Version = "dev"

// Info identifies a build.
type Info struct {
	Version string
	// Commit is the VCS revision the binary was built from (12 characters,
	// "-dirty" when the work tree had changes), "unknown" when the build
	// recorded none (go test binaries, -buildvcs=false).
	Commit    string
	GoVersion string
}

// Get returns the running binary's build information.
func Get() Info {
	info := Info{Version: Version, Commit: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	return withVCS(info, bi.Settings)
}

func withVCS(info Info, settings []debug.BuildSetting) Info {
	var revision string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if revision == "" {
		return info
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified {
		revision += "-dirty"
	}
	info.Commit = revision
	return info
}

// String is the one line `milvus-cdc version` prints.
func (i Info) String() string {
	return fmt.Sprintf("milvus-cdc %s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}
