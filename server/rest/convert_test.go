package rest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// fill sets every field reachable from v to a value that is not zero (one
// element per slice, pointers allocated), so that no omitempty field hides
// from a comparison of encodings.
func fill(v reflect.Value) {
	if v.Type() == reflect.TypeOf(time.Time{}) {
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint64:
		v.SetUint(9)
	case reflect.Float64:
		v.SetFloat(1.5)
	default:
		panic("fill: add " + v.Kind().String())
	}
}

// The wire mirrors of the pipeline status and the sync report must encode
// exactly as the internal types they were split from: a field added to
// corelib.Status or corelib.SyncReport fails here until it is added to
// package api and to the conversion (or tagged json:"-").
func TestWireMirrorsEncodeAsTheInternalModel(t *testing.T) {
	var full corelib.Status
	fill(reflect.ValueOf(&full).Elem())
	var report corelib.SyncReport
	fill(reflect.ValueOf(&report).Elem())
	view := task.View{Spec: corelib.TaskSpec{ID: "t1"}, State: meta.StateRunning}
	type synced struct {
		ID    string `json:"id"`
		State string `json:"state"`
		corelib.SyncReport
	}

	tests := []struct {
		name     string
		internal any
		wire     any
	}{
		{"every field of the status", full, PipelineStatusOf(&full)},
		{"empty status", corelib.Status{}, PipelineStatusOf(&corelib.Status{})},
		{"empty lists stay empty", corelib.Status{Channels: []corelib.ChannelStatus{}, Snapshot: &corelib.SnapshotStatus{Collections: []corelib.SnapshotCollectionStatus{}}},
			PipelineStatusOf(&corelib.Status{Channels: []corelib.ChannelStatus{}, Snapshot: &corelib.SnapshotStatus{Collections: []corelib.SnapshotCollectionStatus{}}})},
		{"a wait on no channel", corelib.Status{Waiting: []corelib.WaitStatus{{What: "x", Channels: []string{}}}},
			PipelineStatusOf(&corelib.Status{Waiting: []corelib.WaitStatus{{What: "x", Channels: []string{}}}})},
		{"every field of the sync report", synced{"t1", "Running", report}, syncedOf(view, report)},
		{"sync report without channels", synced{"t1", "Running", corelib.SyncReport{Channels: []corelib.ChannelSync{}}}, syncedOf(view, corelib.SyncReport{Channels: []corelib.ChannelSync{}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := json.Marshal(tt.internal)
			require.NoError(t, err)
			b, err := json.Marshal(tt.wire)
			require.NoError(t, err)
			require.JSONEq(t, string(a), string(b))
		})
	}
	require.Nil(t, PipelineStatusOf(nil), "no pipeline, no object")

	// The copy shares no pointer with the pipeline's status.
	w := PipelineStatusOf(&full)
	*w.LagSeconds = 99
	*w.Channels[0].AppliedTime = time.Time{}
	require.Equal(t, 1.5, *full.LagSeconds)
	require.False(t, full.Channels[0].AppliedTime.IsZero())
}
