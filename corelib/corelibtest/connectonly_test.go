package corelibtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/corelibtest"
)

func TestConnectOnlyPipelineIsHonest(t *testing.T) {
	fake := corelibtest.StartFakeMilvus(t, "")
	f := corelibtest.ConnectOnlyFactory{DialOptions: []grpc.DialOption{fake.DialOption()}}
	spec := corelib.TaskSpec{ID: "t1", Target: corelib.Target{URI: "fake:19530", ConnectTimeout: 5 * time.Second}}
	require.NoError(t, f.Verify(context.Background(), spec))
	p, err := f.New(spec, corelib.Deps{})
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	st := p.Status()
	require.False(t, st.Replicating)
	require.Equal(t, corelibtest.NotReplicatingDetail, st.Detail)
	require.NoError(t, p.Stop(context.Background()))
	require.NoError(t, p.Stop(context.Background()), "Stop twice is fine")
	require.Equal(t, "stopped", p.Status().Detail)

	bad := corelibtest.ConnectOnlyFactory{}
	p2, err := bad.New(corelib.TaskSpec{Target: corelib.Target{URI: "127.0.0.1:1", ConnectTimeout: 300 * time.Millisecond}}, corelib.Deps{})
	require.NoError(t, err)
	err = p2.Start(context.Background())
	require.True(t, errors.Is(err, corelib.ErrTargetUnreachable))
	require.NotEmpty(t, p2.Status().LastError)
}
