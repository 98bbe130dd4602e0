package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// callEnv is an Env whose Call retries like the pipeline (without its
// backoff) and records every failure.
type callEnv struct {
	mu     sync.Mutex
	errors []error
}

func (e *callEnv) env() sink.Env {
	return sink.Env{Log: zap.NewNop(), Background: func(string, error) {},
		Call: func(ctx context.Context, _ string, fn func(context.Context) error) error {
			for {
				err := fn(ctx)
				if err == nil || ctx.Err() != nil {
					return err
				}
				e.mu.Lock()
				e.errors = append(e.errors, err)
				e.mu.Unlock()
				if sink.IsPermanent(err) {
					return err
				}
				time.Sleep(50 * time.Millisecond)
			}
		}}
}

func (e *callEnv) failures() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errors...)
}

// rowsBatch is one batch inserting keys with a varchar "v" of value.
func rowsBatch(t *testing.T, coll *sink.Collection, ts uint64, value string, keys ...int64) *sink.Batch {
	vs := make([]string, len(keys))
	tss := make([]uint64, len(keys))
	for i := range keys {
		vs[i], tss[i] = value, ts
	}
	req := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts}, CollectionID: coll.ID, PartitionName: "_default",
		NumRows: uint64(len(keys)), Timestamps: tss, FieldsData: []*schemapb.FieldData{
			scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: keys}}}),
			scalars("v", schemapb.DataType_VarChar, &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: vs}}}),
		}}
	return &sink.Batch{Channel: "dml_0", BeginTs: ts, EndTs: ts, Position: source.Position{Channel: "dml_0", MsgID: []byte{1}, Timestamp: ts},
		Changes: []sink.Change{&sink.Insert{Coll: coll, Msg: msg(t, req)}}}
}

func kafkaCollection() *sink.Collection {
	return testCollection(&schemapb.FieldSchema{FieldID: 100, Name: "id", DataType: schemapb.DataType_Int64, IsPrimaryKey: true})
}

// TestBrokerDownIsRetried: while the broker refuses every produce, or
// drops the connection, Write keeps going through Call with retryable
// failures that say why; once it is back every event is there, once, in
// order per key.
func TestBrokerDownIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		outage func(kmsg.Request) (kmsg.Response, error, bool)
	}{
		{"refusing", func(req kmsg.Request) (kmsg.Response, error, bool) {
			return refuseProduce(req.(*kmsg.ProduceRequest), kerr.NotEnoughReplicas), nil, true
		}},
		{"dropping connections", func(kmsg.Request) (kmsg.Response, error, bool) {
			return nil, errors.New("gone"), true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1))
			require.NoError(t, err)
			defer c.Close()
			var down atomic.Bool
			c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				if !down.Load() {
					return nil, nil, false
				}
				return tc.outage(req)
			})
			k := corelib.KafkaTarget{Brokers: c.ListenAddrs(), Topic: "cdc"}
			env := &callEnv{}
			f := &Factory{Cluster: "by-dev", DeliveryTimeout: time.Second}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			w, err := f.Open(ctx, corelib.Target{Kafka: &k}, env.env())
			require.NoError(t, err)
			defer w.Close()
			coll := kafkaCollection()
			ts := uint64(time.Now().UnixMilli()) << 18
			require.NoError(t, w.Write(ctx, rowsBatch(t, coll, ts, "a", 1, 2, 3)))

			down.Store(true)
			done := make(chan error, 1)
			go func() { done <- w.Write(ctx, rowsBatch(t, coll, ts+1, "b", 1, 2, 3, 4)) }()
			require.Eventually(t, func() bool { return len(env.failures()) >= 2 }, 20*time.Second, 20*time.Millisecond)
			select {
			case err := <-done:
				t.Fatalf("Write returned during the outage: %v", err)
			default:
			}
			down.Store(false)
			require.NoError(t, <-done)
			for _, err := range env.failures() {
				require.False(t, sink.IsPermanent(err), "%v", err)
				require.Contains(t, err.Error(), "acknowledged", "the failure says the events wait for the broker")
			}

			st := readState(t, ctx, k.Brokers, []string{"cdc"})
			rows := st.Collection(coll.ID).Rows()
			require.Len(t, rows, 4)
			for pk, r := range rows {
				require.Equal(t, `"b"`, string(r.Values["v"]), "key %s", pk)
				require.Equal(t, 1, r.Received, "key %s written once", pk)
			}
			require.Zero(t, st.Stale, "no change arrived after a later one of its key")
		})
	}
}

// TestEventTooLarge: an event larger than the producer's or the topic's
// limit is a permanent refusal that names both settings.
func TestEventTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name            string
		brokerLimit     string
		maxMessageBytes int32
	}{
		{"the producer's limit", "", 2048},
		{"the topic's limit", "2048", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []kfake.Opt{kfake.NumBrokers(1)}
			if tc.brokerLimit != "" {
				opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": tc.brokerLimit}))
			}
			c, err := kfake.NewCluster(opts...)
			require.NoError(t, err)
			defer c.Close()
			k := corelib.KafkaTarget{Brokers: c.ListenAddrs(), Topic: "cdc", MaxMessageBytes: tc.maxMessageBytes}
			env := &callEnv{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			w, err := (&Factory{Cluster: "by-dev"}).Open(ctx, corelib.Target{Kafka: &k}, env.env())
			require.NoError(t, err)
			defer w.Close()
			err = w.Write(ctx, rowsBatch(t, kafkaCollection(), 1<<18, strings.Repeat("x", 4000), 1))
			require.Error(t, err)
			require.True(t, sink.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), "target.kafka.maxMessageBytes")
			require.Contains(t, err.Error(), "max.message.bytes")
			require.Contains(t, err.Error(), `key {"database":"tdb","collection":"tc","pk":1}`)
		})
	}
}

// TestReplayAfterACrash: a batch written again by a new writer carries the
// same position, ts and seq, so the consumer's State counts it as a
// duplicate and the rebuilt rows do not change.
func TestReplayAfterACrash(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "cdc"))
	require.NoError(t, err)
	defer c.Close()
	k := corelib.KafkaTarget{Brokers: c.ListenAddrs(), Topic: "cdc"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	coll := kafkaCollection()
	first, second := rowsBatch(t, coll, 10<<18, "a", 1, 2, 3), rowsBatch(t, coll, 11<<18, "b", 2)
	for run := 0; run < 2; run++ {
		w, err := (&Factory{Cluster: "by-dev"}).Open(ctx, corelib.Target{Kafka: &k}, (&callEnv{}).env())
		require.NoError(t, err)
		require.NoError(t, w.Write(ctx, first))
		if run == 1 {
			require.NoError(t, w.Write(ctx, second))
		}
		require.NoError(t, w.Close())
	}
	var positions []string
	st := &changelog.State{}
	require.NoError(t, changelog.ReadAll(ctx, []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}, []string{"cdc"}, func(r *kgo.Record) error {
		ev, err := changelog.Decode(r.Value)
		require.NoError(t, err)
		key, err := changelog.DecodeKey(r.Key)
		require.NoError(t, err)
		positions = append(positions, fmt.Sprintf("%s@%d/%d", ev.Source.Position, ev.Source.Ts, ev.Source.Seq))
		return st.Apply(ev, key)
	}))
	require.Len(t, positions, 7)
	require.Equal(t, 3, st.Duplicates, "the three events of the replayed batch")
	rows := st.Collection(coll.ID).Rows()
	require.Len(t, rows, 3)
	require.Equal(t, `"b"`, string(rows["2"].Values["v"]))
	require.Equal(t, `"a"`, string(rows["1"].Values["v"]))
	require.Equal(t, 2, rows["1"].Received, "key 1's change arrived twice")
}
