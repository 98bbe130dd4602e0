package compat

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// TestFailedShowsAsPausedWithItsReason: milvus-cdc has no failed state; its
// clients see a failed task as paused, with the error as reason.
func TestFailedShowsAsPausedWithItsReason(t *testing.T) {
	tests := []struct {
		state meta.State
		want  string
	}{
		{meta.StateInitial, "Initial"},
		{meta.StateRunning, "Running"},
		{meta.StatePaused, "Paused"},
		{meta.StateFailed, "Paused"},
	}
	for _, tt := range tests {
		got := fromView(task.View{State: tt.state, Reason: "why"})
		require.Equal(t, tt.want, got.State, string(tt.state))
		require.Equal(t, "why", got.Reason)
	}
}
