// Package kafkatest reads a Kafka writer's topics back for the writer
// conformance suite (sinktest): a sinktest.Target whose rows, partitions,
// indexes and load state are what a consumer rebuilds from the change
// events (changelog.State). The writer's unit tests run it against an
// in-process broker, the end-to-end tests against the bed's Kafka.
package kafkatest

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka/changelog"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/sinktest"
)

// Target is a Kafka writer's target as the suite sees it.
type Target struct {
	// Client connects the reading client (kgo.SeedBrokers and security).
	Client []kgo.Opt
	// Topics are the topics holding a collection's events: its data topic
	// and the schema topic.
	Topics func(coll *sink.Collection) []string
	// OpenWriter opens the writer under test.
	OpenWriter func(t *testing.T, env sink.Env) sink.Writer
	// RefuseProduce makes the broker refuse the next n produce requests
	// retryably (0 stops refusing); nil when the broker cannot be made to.
	RefuseProduce func(n int)
}

var _ sinktest.Target = (*Target)(nil)

func (k *Target) Open(t *testing.T, env sink.Env) sink.Writer { return k.OpenWriter(t, env) }

// Collection rebuilds one collection from its topics; an empty one when no
// event names it.
func (k *Target) Collection(t *testing.T, coll *sink.Collection) *changelog.Collection {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := changelog.Rebuild(ctx, k.Client, k.Topics(coll))
	require.NoError(t, err)
	if c := st.Collection(coll.ID); c != nil {
		return c
	}
	return &changelog.Collection{}
}

// Rows lists each live key with its "v", once per time its latest change
// arrived: a change the writer sent twice shows as a duplicate.
func (k *Target) Rows(t *testing.T, coll *sink.Collection) map[int64][]string {
	out := map[int64][]string{}
	c := k.Collection(t, coll)
	if !c.Exists() {
		return out
	}
	for pk, r := range c.Rows() {
		key, err := strconv.ParseInt(pk, 10, 64)
		require.NoError(t, err)
		var v string
		require.NoError(t, json.Unmarshal(r.Values["v"], &v))
		for i := 0; i < r.Received; i++ {
			out[key] = append(out[key], v)
		}
	}
	return out
}

// Describe is what the DDL events say about the collection.
func (k *Target) Describe(t *testing.T, coll *sink.Collection) sinktest.State {
	c := k.Collection(t, coll)
	if !c.Exists() {
		return sinktest.State{}
	}
	return sinktest.State{Exists: true, Partitions: c.Partitions(), Indexed: c.Indexed(), Loaded: c.Loaded()}
}

// Refuse refuses produce requests (the suite names the write RPCs of the
// Milvus writers; for a Kafka writer both are a produce). Only retryable
// refusals can be made.
func (k *Target) Refuse(rpc string, n int, retryable bool) bool {
	if k.RefuseProduce == nil || !retryable {
		return false
	}
	if rpc == "Upsert" || n == 0 {
		k.RefuseProduce(n)
	}
	return true
}

// Conflict: a topic holds no collection of its own to conflict with.
func (k *Target) Conflict(*testing.T, string, string) bool { return false }

// Caps: the DDL events show partitions, indexes and loads.
func (k *Target) Caps() sinktest.Caps {
	return sinktest.Caps{Partitions: true, Indexes: true, Load: true}
}
