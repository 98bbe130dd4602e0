package task_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// channelFactory pins one channel per collection name ("dml_<collection>",
// timestamp 7) and the replicate channel, skipping the channels in skip.
type channelFactory struct {
	*fakeFactory
	err   error
	calls []corelib.TaskSpec
}

func (f *channelFactory) StartPositions(_ context.Context, spec corelib.TaskSpec, skip map[string]bool) ([]corelib.Checkpoint, error) {
	f.calls = append(f.calls, spec)
	if f.err != nil {
		return nil, f.err
	}
	var out []corelib.Checkpoint
	for _, s := range spec.Scope {
		if ch := "dml_" + s.Collection; !skip[ch] {
			out = append(out, corelib.Checkpoint{Channel: ch, Position: []byte{7}, Timestamp: 7})
		}
	}
	if !skip["by-dev-replicate-msg"] {
		out = append(out, corelib.Checkpoint{Channel: "by-dev-replicate-msg", CollectionID: corelib.ReplicateChannelCollectionID, Position: []byte{7}, Timestamp: 7})
	}
	return out, nil
}

func checkpointsByChannel(t *testing.T, h *harness, id string) map[string]uint64 {
	t.Helper()
	cps, err := h.store.LoadCheckpoints(context.Background(), id)
	require.NoError(t, err)
	out := map[string]uint64{}
	for _, cp := range cps {
		out[cp.Channel] = cp.Timestamp
	}
	return out
}

// pausedTask creates a task on db1.kept, lets its pipeline move the kept
// channel's checkpoint to 50, and pauses it.
func pausedTask(t *testing.T) (*harness, *channelFactory, string) {
	t.Helper()
	ctx := context.Background()
	h := newHarness(t)
	cf := &channelFactory{fakeFactory: h.factory}
	h.ctl = task.NewController(h.store, cf, h.limits, zap.NewNop())
	v, err := h.ctl.Create(ctx, spec("http://127.0.0.1:19530", "db1", "kept"))
	require.NoError(t, err)
	id := v.Spec.ID
	cps, err := h.store.LoadCheckpoints(ctx, id)
	require.NoError(t, err)
	for _, cp := range cps {
		if cp.Channel == "dml_kept" {
			cp.Timestamp = 50
			_, err := h.store.SaveCheckpoint(ctx, id, cp)
			require.NoError(t, err)
		}
	}
	_, err = h.ctl.Pause(ctx, id)
	require.NoError(t, err)
	return h, cf, id
}

func TestUpdateKeepsCheckpointsAndPinsOnlyTheAddedChannels(t *testing.T) {
	ctx := context.Background()
	h, cf, id := pausedTask(t)
	v, err := h.ctl.Update(ctx, id, task.UpdateInput{Scope: []corelib.CollectionScope{
		{Database: "db1", Collection: "kept"}, {Database: "db1", Collection: "added"},
	}})
	require.NoError(t, err)
	require.Equal(t, meta.StatePaused, v.State, "an update does not resume")
	require.Len(t, v.Spec.Scope, 2)
	require.Equal(t, map[string]uint64{"dml_kept": 50, "dml_added": 7, "by-dev-replicate-msg": 7}, checkpointsByChannel(t, h, id),
		"the kept channel keeps its checkpoint; the added one starts at its end now")
	last := cf.calls[len(cf.calls)-1]
	require.Equal(t, []corelib.CollectionScope{{Database: "db1", Collection: "added"}}, last.Scope, "only the added scope is pinned")

	v, err = h.ctl.Resume(ctx, id)
	require.NoError(t, err)
	require.Equal(t, meta.StateRunning, v.State)
	require.Len(t, h.factory.last(id).spec.Scope, 2, "the resumed pipeline runs the new scope")

	// Removing a collection keeps every checkpoint.
	_, err = h.ctl.Pause(ctx, id)
	require.NoError(t, err)
	_, err = h.ctl.Update(ctx, id, task.UpdateInput{Scope: []corelib.CollectionScope{{Database: "db1", Collection: "added"}}})
	require.NoError(t, err)
	require.Equal(t, map[string]uint64{"dml_kept": 50, "dml_added": 7, "by-dev-replicate-msg": 7}, checkpointsByChannel(t, h, id))
}

func TestUpdateChangesNameMappingAndCredentials(t *testing.T) {
	ctx := context.Background()
	h, _, id := pausedTask(t)
	mapping := []corelib.NameMapping{{SourceDatabase: "db1", TargetDatabase: "db2", Collections: map[string]string{"kept": "kept2"}}}
	tls := corelib.TargetTLS{ServerName: "target", ServerPEMPath: "/certs/server.pem"}
	v, err := h.ctl.Update(ctx, id, task.UpdateInput{NameMapping: mapping, SetNameMapping: true,
		Credentials: &task.CredentialsUpdate{SetToken: true, Token: "root:N3w-secret", TLS: &tls}})
	require.NoError(t, err)
	require.Equal(t, mapping, v.Spec.NameMapping)
	require.Empty(t, v.Spec.Target.Token, "views never carry the token")
	stored, err := h.store.GetTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "root:N3w-secret", stored.Spec.Target.Token)
	require.Equal(t, tls, stored.Spec.Target.TLS)
	require.Equal(t, []corelib.CollectionScope{{Database: "db1", Collection: "kept"}}, stored.Spec.Scope, "a field left out stays")

	v, err = h.ctl.Update(ctx, id, task.UpdateInput{SetNameMapping: true})
	require.NoError(t, err)
	require.Empty(t, v.Spec.NameMapping, "an empty mapping removes it")
}

func TestUpdateRefusals(t *testing.T) {
	verifyFails := func(h *harness) { h.factory.verifyErr = errors.New("bad credentials") }
	cases := []struct {
		name  string
		setup func(h *harness)
		in    task.UpdateInput
		code  task.Code
		field string
		msg   string
	}{
		{name: "empty database", in: task.UpdateInput{Scope: []corelib.CollectionScope{{Database: "", Collection: "x"}}},
			code: task.CodeValidation, field: "scope[0].database", msg: "the database name is empty"},
		{name: "empty scope", in: task.UpdateInput{Scope: []corelib.CollectionScope{}},
			code: task.CodeValidation, field: "scope", msg: "the collection info is empty"},
		{name: "overlapping entries", in: task.UpdateInput{Scope: []corelib.CollectionScope{{Database: "db1", Collection: "*"}, {Database: "db1", Collection: "kept"}}},
			code: task.CodeValidation, field: "scope[1]", msg: "overlap"},
		{name: "positions for an added collection", in: task.UpdateInput{Scope: []corelib.CollectionScope{{Database: "db1", Collection: "kept"}, {Database: "db1", Collection: "new", UseStartPosition: true}}},
			code: task.CodeValidation, field: "scope[1].positions", msg: "accepted only at create"},
		{name: "a kept collection's start changed", in: task.UpdateInput{Scope: []corelib.CollectionScope{{Database: "db1", Collection: "kept", UseStartPosition: true}}},
			code: task.CodeValidation, field: "scope[0].positions", msg: "cannot change"},
		{name: "mapping without source database", in: task.UpdateInput{SetNameMapping: true, NameMapping: []corelib.NameMapping{{TargetDatabase: "x"}}},
			code: task.CodeValidation, field: "nameMapping[0].sourceDatabase", msg: "empty"},
		{name: "two tokens", in: task.UpdateInput{Credentials: &task.CredentialsUpdate{SetToken: true, Token: "a", TokenEnv: "CDC_TARGET_X"}},
			code: task.CodeValidation, field: "target.token", msg: "one way"},
		{name: "client cert without key", in: task.UpdateInput{Credentials: &task.CredentialsUpdate{TLS: &corelib.TargetTLS{ClientPEMPath: "/c.pem"}}},
			code: task.CodeValidation, field: "target.tls.clientPemPath", msg: "client key"},
		{name: "credentials the target refuses", setup: verifyFails, in: task.UpdateInput{Credentials: &task.CredentialsUpdate{SetToken: true, Token: "root:wrong"}},
			code: task.CodeTargetUnreachable, field: "target", msg: "bad credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h, _, id := pausedTask(t)
			before, err := h.store.GetTask(ctx, id)
			require.NoError(t, err)
			cpsBefore := checkpointsByChannel(t, h, id)
			if tc.setup != nil {
				tc.setup(h)
			}
			_, err = h.ctl.Update(ctx, id, tc.in)
			requireCode(t, err, tc.code, "")
			e := task.AsError(err)
			require.Equal(t, tc.field, e.Field)
			require.Contains(t, e.Message, tc.msg)
			after, err := h.store.GetTask(ctx, id)
			require.NoError(t, err)
			require.Equal(t, before.Spec, after.Spec, "a refused update changes nothing")
			require.Equal(t, before.Revision, after.Revision)
			require.Equal(t, cpsBefore, checkpointsByChannel(t, h, id))
		})
	}
}

func TestUpdateOnlyPausedTasks(t *testing.T) {
	ctx := context.Background()
	h, _, id := pausedTask(t)
	_, err := h.ctl.Resume(ctx, id)
	require.NoError(t, err)
	_, err = h.ctl.Update(ctx, id, task.UpdateInput{SetNameMapping: true})
	requireCode(t, err, task.CodeStateConflict, fmt.Sprintf("the task %s is Running; only a Paused task can be updated: pause it first (POST /api/v1/tasks/%s/pause), update it, then resume it", id, id))
	_, err = h.ctl.Update(ctx, "nope", task.UpdateInput{SetNameMapping: true})
	requireCode(t, err, task.CodeNotFound, "")
}

func TestCreateStartFrom(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name      string
		startFrom string
		pinErr    error
		code      task.Code
		msg       string
	}{
		{name: "latest", startFrom: "latest"},
		{name: "default", startFrom: ""},
		{name: "earliest", startFrom: "earliest"},
		{name: "a past time", startFrom: now.Add(-time.Minute).UTC().Format(time.RFC3339)},
		{name: "a future time", startFrom: now.Add(time.Hour).UTC().Format(time.RFC3339), code: task.CodeValidation, msg: "is in the future"},
		{name: "not a time", startFrom: "yesterday", code: task.CodeValidation, msg: "neither \"latest\", \"earliest\" nor an RFC 3339 time"},
		{name: "older than retention", startFrom: now.Add(-time.Hour).UTC().Format(time.RFC3339),
			pinErr: fmt.Errorf("the position of channel dml_0: channel dml_0 holds nothing published before ...: %w", corelib.ErrStartExpired),
			code:   task.CodeValidation, msg: "channel dml_0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t)
			cf := &channelFactory{fakeFactory: h.factory, err: tc.pinErr}
			h.ctl = task.NewController(h.store, cf, h.limits, zap.NewNop())
			in := spec("http://127.0.0.1:19530", "db1", "c")
			in.Spec.StartFrom = tc.startFrom
			v, err := h.ctl.Create(ctx, in)
			if tc.code == "" {
				require.NoError(t, err)
				require.Equal(t, tc.startFrom, v.Spec.StartFrom)
				require.Equal(t, tc.startFrom, cf.calls[0].StartFrom, "the factory pins the start the create asks for")
				return
			}
			requireCode(t, err, tc.code, "")
			require.Equal(t, "startFrom", task.AsError(err).Field)
			require.True(t, strings.Contains(task.AsError(err).Message, tc.msg), task.AsError(err).Message)
			views, err := h.ctl.List(ctx, "")
			require.NoError(t, err)
			require.Empty(t, views, "nothing is stored")
		})
	}
}
