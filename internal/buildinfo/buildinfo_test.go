package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithVCS(t *testing.T) {
	base := Info{Version: "v1.2.3", Commit: "unknown", GoVersion: "go1.26.0"}
	tests := []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{"no vcs", nil, "unknown"},
		{"clean", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "false"}}, "0123456789ab"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}, "0123456789ab-dirty"},
		{"short revision", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, withVCS(base, tt.settings).Commit)
		})
	}
}

func TestGet(t *testing.T) {
	i := Get()
	require.Equal(t, Version, i.Version)
	require.Equal(t, runtime.Version(), i.GoVersion)
	require.NotEmpty(t, i.Commit)
	require.Equal(t, "milvus-cdc dev (commit "+i.Commit+", "+runtime.Version()+")", i.String())
}
