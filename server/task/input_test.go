package task_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// Go callers reach the service without a JSON decoder in between, so the
// service checks names and numbers itself: exact errors, nothing stored.
func TestCreateRefusesBadTargetsAndNames(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	probed := []string{}
	h.limits.SourceMilvusAddress = "127.0.0.1:19530"
	h.limits.Probe = func(_ context.Context, hostPort string, _ time.Duration) error {
		probed = append(probed, hostPort)
		if hostPort == "down:19530" {
			return errors.New("connection refused by down:19530")
		}
		return nil
	}
	h.ctl = task.NewController(h.store, h.factory, h.limits, zap.NewNop())
	with := func(mutate func(*task.CreateInput)) task.CreateInput {
		in := spec("http://t:19530", "db", "c")
		mutate(&in)
		return in
	}
	tests := []struct {
		name  string
		in    task.CreateInput
		code  task.Code
		field string
		msg   string
	}{
		{"database not UTF-8", spec("http://t:19530", "db\xff", "c"), task.CodeValidation, "scope[0].database",
			"the database name is not valid UTF-8; send it as UTF-8 text"},
		{"collection not UTF-8", spec("http://t:19530", "db", "c\xc3"), task.CodeValidation, "scope[0].collection",
			"the collection name is not valid UTF-8; send it as UTF-8 text"},
		{"mapped name not UTF-8", with(func(in *task.CreateInput) {
			in.Spec.NameMapping = []corelib.NameMapping{{SourceDatabase: "db", TargetDatabase: "db2", Collections: map[string]string{"c": "\xffc"}}}
		}), task.CodeValidation, "nameMapping[0].collections", "a collection name of the name mapping is not valid UTF-8; send it as UTF-8 text"},
		{"timeout beyond the bound", with(func(in *task.CreateInput) { in.Spec.Target.ConnectTimeout = 301 * time.Second }),
			task.CodeValidation, "target.connectTimeoutSeconds", "the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{"timeout that saturated", with(func(in *task.CreateInput) { in.Spec.Target.ConnectTimeout = task.DurationOfSeconds(math.MaxInt64) }),
			task.CodeValidation, "target.connectTimeoutSeconds", "the milvus connect timeout exceeds 300 seconds; set 0 (the default, 30 s) to 300"},
		{"channel num beyond the bound", with(func(in *task.CreateInput) { in.Spec.Target.ChannelNum = 1025 }),
			task.CodeValidation, "target.channelNum", "the target channel num 1025 exceeds 1024; set the target's rootCoord.dmlChannelNum (0 = the same as the source), at most 1024"},
		{"ftp", spec("ftp://t:21", "db", "c"), task.CodeValidation, "target.uri",
			`the target uri "ftp://t:21" has the scheme "ftp"; a Milvus target is reached over gRPC: use http://host:port, https://host:port or host:port`},
		{"no host", spec("http://:19530", "db", "c"), task.CodeValidation, "target.uri",
			`the target uri "http://:19530" has no host; use http://host:port, https://host:port or host:port`},
		{"bad port", spec("t:0", "db", "c"), task.CodeValidation, "target.uri",
			`the target uri "t:0" has the port "0"; use a port from 1 to 65535`},
		{"password hidden in errors", spec("gopher://root:Secret1@t:70", "db", "c"), task.CodeValidation, "target.uri",
			`the target uri "gopher://t:70" has the scheme "gopher"; a Milvus target is reached over gRPC: use http://host:port, https://host:port or host:port`},
		{"source via localhost", spec("HTTPS://LocalHost:19530/", "db", "c"), task.CodeValidation, "target.uri",
			"the target HTTPS://LocalHost:19530/ is the source Milvus (source.milvus.address 127.0.0.1:19530): a task replicating a Milvus to itself would loop; point target.uri at another Milvus, or set source.milvus.address to the source's proxy if this target is not it"},
		{"probe fails", spec("http://down:19530", "db", "c"), task.CodeTargetUnreachable, "target.uri",
			"fail to connect the milvus: connection refused by down:19530"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.ctl.Create(ctx, tt.in)
			requireCode(t, err, tt.code, tt.msg)
			require.Equal(t, tt.field, task.AsError(err).Field)
		})
	}
	require.Equal(t, []string{"down:19530"}, probed, "only a valid target is probed")
	views, err := h.ctl.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, views, "nothing was stored")

	// A valid target passes: https without a port is 443, as the SDK dials it.
	_, err = h.ctl.Create(ctx, spec("https://t", "db", "c"))
	require.NoError(t, err)
	require.Equal(t, []string{"down:19530", "t:443"}, probed)
}

func TestSameAddress(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"127.0.0.1:19530", "127.0.0.1:19530", true},
		{"http://localhost:19530", "127.0.0.1:19530", true},
		{"https://root:pw@LOCALHOST:19530/db", "127.0.0.2:19530", true},
		{"[::1]:19530", "localhost:19530", true},
		{"milvus:19530", "http://Milvus:19530", true},
		{"127.0.0.1:19530", "127.0.0.1:19630", false},
		{"10.0.0.1:19530", "127.0.0.1:19530", false},
		{"milvus", "milvus", false}, // not host:port
	}
	for _, tt := range tests {
		require.Equal(t, tt.same, task.SameAddress(tt.a, tt.b), "%s vs %s", tt.a, tt.b)
	}
}

func TestDurationOfSeconds(t *testing.T) {
	require.Equal(t, 5*time.Second, task.DurationOfSeconds(5))
	require.Equal(t, time.Duration(math.MaxInt64), task.DurationOfSeconds(1_000_000_000_000_000_000))
	require.Equal(t, time.Duration(math.MinInt64), task.DurationOfSeconds(-1_000_000_000_000_000_000))
	require.Less(t, task.DurationOfSeconds(-1), time.Duration(0))
}
