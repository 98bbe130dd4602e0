//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRetentionGapFailsTheTask: a task is paused, the source goes on
// writing, and the broker drops the channel's messages from before the
// task's position (what retention does to a task paused for too long). On
// resume the task must fail, naming the channel and the fix, and apply
// nothing past the gap: the target keeps exactly the rows from before the
// pause. Kafka: the records are deleted with DeleteRecords, as retention.ms
// would. Pulsar: the topic is unloaded (its ledger is closed, a new one
// opened) and truncated, which deletes every ledger but the current one, as
// retention would delete the old ones.
func TestRetentionGapFailsTheTask(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema := AllTypesSchema(UniqueName("e2e_retention"))
	coll := schema.CollectionName
	id := d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	replicatedCollection(t, ctx, src, dst, schema, 1)

	const before, after = 500, 300
	_, err := NewDataset(schema, 0, before).Insert(ctx, src, 250)
	require.NoError(t, err)
	Eventually(t, ctx, catchUp, time.Second, "target holds the rows written before the pause", SameCollection(src, dst, coll, coll))

	d.CDC(t, "pause", map[string]any{"task_id": id})
	_, err = NewDataset(schema, before, after).Insert(ctx, src, 150)
	require.NoError(t, err)

	desc, err := src.DescribeCollection(ctx, coll)
	require.NoError(t, err)
	require.Len(t, desc.PhysicalChannels, 1)
	channel := desc.PhysicalChannels[0]
	switch bed.MQType {
	case "kafka":
		low := deleteKafkaRecords(t, ctx, bed.KafkaBrokers, channel)
		t.Logf("deleted the records of %s below offset %d", channel, low)
	case "pulsar":
		truncatePulsarTopic(t, ctx, bed, channel)
	default:
		t.Skipf("MQ %s: no way to force its retention", bed.MQType)
	}

	d.CDC(t, "resume", map[string]any{"task_id": id})
	var reason string
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "task failed on the lost position", func(context.Context) (bool, string, error) {
		var state string
		state, reason = d.restTaskState(t, id)
		return state == "Failed", state + ": " + reason, nil
	})
	require.Contains(t, reason, "source channel "+channel+" no longer holds the task's position")
	require.Contains(t, reason, "re-create the task with initialSync")

	// Nothing past the gap: exactly the rows from before the pause, key by
	// key with their values, also a while later.
	time.Sleep(5 * time.Second)
	want, err := NewDataset(schema, 0, before).ExpectedRows()
	require.NoError(t, err)
	got, err := QueryAllRows(ctx, dst, coll)
	require.NoError(t, err)
	missing, extra, values := CompareRows(want, got)
	require.Empty(t, missing, "rows from before the pause missing on the target")
	require.Empty(t, extra, "rows written after the pause reached the target")
	require.Empty(t, values, "rows whose values differ")
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, before, n)
	state, _ := d.restTaskState(t, id)
	require.Equal(t, "Failed", state, "the task stays failed")
}

// restTaskState is the task's state and reason as REST shows them (the /cdc
// API shows Failed as Paused, as milvus-cdc has no such state).
func (d *Daemon) restTaskState(t testing.TB, id string) (string, string) {
	t.Helper()
	var tk struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
	d.getJSON(t, "/api/v1/tasks/"+id, &tk)
	return tk.State, tk.Reason
}

// truncatePulsarTopic closes the topic's current ledger (unload) and
// deletes every older one (truncate), through the admin REST API.
func truncatePulsarTopic(t *testing.T, ctx context.Context, bed *Bed, channel string) {
	t.Helper()
	base := fmt.Sprintf("%s/admin/v2/persistent/%s/%s/%s", strings.TrimSuffix(bed.PulsarWebAddress, "/"), bed.PulsarTenant, bed.PulsarNamespace, channel)
	admin := func(method, path string) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300, "%s %s: %s", method, base+path, body)
	}
	ledgers := func() string {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/internalStats", nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var st struct {
			Ledgers []struct {
				LedgerID int64 `json:"ledgerId"`
				Entries  int64 `json:"entries"`
			} `json:"ledgers"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		return fmt.Sprint(st.Ledgers)
	}
	t.Logf("ledgers of %s before: %s", channel, ledgers())
	admin(http.MethodPut, "/unload")
	// The producers reconnect to the reloaded topic on a new ledger.
	time.Sleep(3 * time.Second)
	admin(http.MethodDelete, "/truncate")
	t.Logf("ledgers of %s after unload and truncate: %s", channel, ledgers())
}

// deleteKafkaRecords deletes every record of partition 0 of topic up to its
// high watermark and returns the new log start offset.
func deleteKafkaRecords(t *testing.T, ctx context.Context, brokers []string, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = 0, -1 // -1: up to the high watermark
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err)
	for _, tp := range resp.Topics {
		for _, p := range tp.Partitions {
			require.NoError(t, kerr.ErrorForCode(p.ErrorCode), "delete records of %s", topic)
			require.Positive(t, p.LowWatermark, "records of %s deleted", topic)
			return p.LowWatermark
		}
	}
	require.FailNow(t, fmt.Sprintf("delete records of %s: empty response", topic))
	return 0
}
