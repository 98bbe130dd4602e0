package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{in: "256MiB", want: 256 << 20},
		{in: "1GiB", want: 1 << 30},
		{in: " 512 MB ", want: 512_000_000},
		{in: "4096", want: 4096},
		{in: "10B", want: 10},
		{in: "2TiB", want: 2 << 40},
		{in: "", wantErr: `"" is not a size`},
		{in: "256M", wantErr: `"256M" is not a size`},
		{in: "-1MiB", wantErr: "is not a size"},
		{in: "1.5GiB", wantErr: "is not a size"},
		{in: "9999999999TiB", wantErr: "is too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
