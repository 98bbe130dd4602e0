package kafka

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// benchRows and benchDim size the benchmark's batch: rows of an int64 key,
// a varchar, a JSON document and a 128-dimensional float vector.
const (
	benchRows = 2000
	benchDim  = 128
)

func benchBatch(b *testing.B, ts uint64) *sink.Batch {
	rng := rand.New(rand.NewSource(1))
	keys, vs, docs := make([]int64, benchRows), make([]string, benchRows), make([][]byte, benchRows)
	vec := make([]float32, 0, benchRows*benchDim)
	tss := make([]uint64, benchRows)
	for i := range keys {
		keys[i], vs[i], tss[i] = int64(i), fmt.Sprintf("row %d of the benchmark", i), ts
		docs[i] = []byte(fmt.Sprintf(`{"i":%d,"tags":["a","b"],"score":%f}`, i, rng.Float64()))
		for d := 0; d < benchDim; d++ {
			vec = append(vec, rng.Float32())
		}
	}
	req := &msgpb.InsertRequest{Base: &commonpb.MsgBase{MsgType: commonpb.MsgType_Insert, Timestamp: ts}, PartitionName: "_default",
		NumRows: benchRows, Timestamps: tss, FieldsData: []*schemapb.FieldData{
			scalars("id", schemapb.DataType_Int64, &schemapb.ScalarField{Data: &schemapb.ScalarField_LongData{LongData: &schemapb.LongArray{Data: keys}}}),
			scalars("v", schemapb.DataType_VarChar, &schemapb.ScalarField{Data: &schemapb.ScalarField_StringData{StringData: &schemapb.StringArray{Data: vs}}}),
			scalars("doc", schemapb.DataType_JSON, &schemapb.ScalarField{Data: &schemapb.ScalarField_JsonData{JsonData: &schemapb.JSONArray{Data: docs}}}),
			vectors("vec", schemapb.DataType_FloatVector, &schemapb.VectorField{Dim: benchDim, Data: &schemapb.VectorField_FloatVector{FloatVector: &schemapb.FloatArray{Data: vec}}}),
		}}
	m := msg(b, req)
	return &sink.Batch{Channel: "dml_0", BeginTs: ts, EndTs: ts, Position: source.Position{Channel: "dml_0", MsgID: []byte{1}, Timestamp: ts},
		Changes: []sink.Change{&sink.Insert{Coll: kafkaCollection(), Msg: m}}}
}

// BenchmarkWriterVsPlainProducer publishes the same batch through the
// writer (encoding included) and, in the same iterations, the writer's
// encoded records through a plain franz-go producer with the same
// settings, both to an in-process broker. It reports the events/s of each
// and their ratio (writer/plain); docs/kafka-sink.md lists a run.
func BenchmarkWriterVsPlainProducer(b *testing.B) {
	for _, format := range []Format{FormatJSON, FormatJSONBase64} {
		b.Run(string(format), func(b *testing.B) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "cdc", "plain"))
			require.NoError(b, err)
			defer c.Close()
			k := corelib.KafkaTarget{Brokers: c.ListenAddrs(), Topic: "cdc", Format: string(format)}
			ctx := context.Background()
			w, err := (&Factory{Cluster: "by-dev"}).Open(ctx, corelib.Target{Kafka: &k}, (&callEnv{}).env())
			require.NoError(b, err)
			defer w.Close()
			opts, err := clientOptions(&k, DefaultDeliveryTimeout)
			require.NoError(b, err)
			plain, err := kgo.NewClient(opts...)
			require.NoError(b, err)
			defer plain.Close()

			batch := benchBatch(b, 1<<18)
			enc := &batchEncoder{w: w.(*Writer), channel: batch.Channel, position: "cG9z"}
			require.NoError(b, enc.change(batch.Changes[0]))
			recs := enc.recs
			var bytes int64
			for _, r := range recs {
				r.Topic = "plain"
				bytes += int64(len(r.Key) + len(r.Value))
			}

			var writerTime, plainTime time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				require.NoError(b, w.Write(ctx, batch))
				writerTime += time.Since(start)

				start = time.Now()
				produceAll(b, ctx, plain, recs)
				plainTime += time.Since(start)
			}
			events := float64(b.N * len(recs))
			b.ReportMetric(events/writerTime.Seconds(), "writer-events/s")
			b.ReportMetric(events/plainTime.Seconds(), "plain-events/s")
			b.ReportMetric(plainTime.Seconds()/writerTime.Seconds(), "writer/plain")
			b.ReportMetric(float64(bytes)/float64(len(recs)), "bytes/event")
		})
	}
}

// produceAll produces records with a plain client and waits for every
// acknowledgement.
func produceAll(b *testing.B, ctx context.Context, cl *kgo.Client, recs []*kgo.Record) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	wg.Add(len(recs))
	for _, r := range recs {
		r.Timestamp = time.Now()
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	require.NoError(b, first)
}
