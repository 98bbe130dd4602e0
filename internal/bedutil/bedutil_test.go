package bedutil

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadEnvFile(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[string]string
		wantErr string
	}{
		{"testbed.sh output", "# bed\nMQ_TYPE=pulsar\n\nexport TARGET_MODE=\"replicate\"\nCDC_CONFIG='/tmp/x/cdc.yaml'\nEMPTY=\n",
			map[string]string{"MQ_TYPE": "pulsar", "TARGET_MODE": "replicate", "CDC_CONFIG": "/tmp/x/cdc.yaml", "EMPTY": ""}, ""},
		{"value with =", "URL=http://h:1/?a=b\n", map[string]string{"URL": "http://h:1/?a=b"}, ""},
		{"not KEY=value", "MQ_TYPE=pulsar\nbroken line\n", nil, ":2: want KEY=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "env")
			require.NoError(t, os.WriteFile(p, []byte(tt.content), 0o644))
			got, err := ReadEnvFile(p)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := ReadEnvFile(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	require.DirExists(t, filepath.Join(root, "internal", "bedutil"))

	t.Chdir(t.TempDir())
	_, err = RepoRoot()
	require.ErrorIs(t, err, ErrNoRepo)
}
