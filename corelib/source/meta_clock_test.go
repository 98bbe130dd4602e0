package source

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSourceClock(t *testing.T) {
	cli := startEtcd(t)
	ctx := context.Background()
	cfg := MetaConfig{RootPath: "cdc-src"}

	_, err := SourceClock(ctx, cli, cfg)
	require.ErrorContains(t, err, "cdc-src/kv/gid/timestamp is missing")

	now := time.Date(2026, 11, 24, 1, 2, 3, 4, time.UTC)
	_, err = cli.Put(ctx, "cdc-src/kv/gid/timestamp", string(binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano()))))
	require.NoError(t, err)
	got, err := SourceClock(ctx, cli, cfg)
	require.NoError(t, err)
	require.True(t, now.Equal(got), "got %v", got)

	_, err = cli.Put(ctx, "cdc-src/kv/gid/timestamp", "short")
	require.NoError(t, err)
	_, err = SourceClock(ctx, cli, cfg)
	require.ErrorContains(t, err, "want 8 bytes")
}
