//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/milvus-cdc/milvus-cdc/internal/testcerts"
)

// clusterTTL is the members' lease in these tests: short, to keep them short.
const clusterTTL = 3 * time.Second

// startCluster starts n daemons sharing one task-store root in the bed's
// etcd, named m1..mn.
func startCluster(t *testing.T, bed *Bed, n int) (string, []*Daemon) {
	root := fmt.Sprintf("milvus-cdc-e2e-cluster-%d", time.Now().UnixNano())
	ds := make([]*Daemon, n)
	for i := range ds {
		ds[i] = StartDaemon(t, bed,
			"MILVUS_CDC_METASTORE_ROOTPATH="+root,
			fmt.Sprintf("MILVUS_CDC_CLUSTER_LEASETTL=%s", clusterTTL),
			fmt.Sprintf("MILVUS_CDC_CLUSTER_MEMBERID=m%d", i+1))
	}
	return root, ds
}

type clusterView struct {
	Enabled bool   `json:"enabled"`
	Self    string `json:"self"`
	Members []struct {
		ID      string   `json:"id"`
		Healthy bool     `json:"healthy"`
		Tasks   []string `json:"tasks"`
	} `json:"members"`
	Unowned []string `json:"unowned"`
}

func (d *Daemon) cluster(t testing.TB) clusterView {
	var v clusterView
	d.getJSON(t, "/api/v1/cluster", &v)
	return v
}

// ownerOf is the member owning the task, as d sees it ("" for nobody).
func (d *Daemon) ownerOf(t testing.TB, id string) string {
	for _, m := range d.cluster(t).Members {
		for _, task := range m.Tasks {
			if task == id {
				return m.ID
			}
		}
	}
	return ""
}

// memberIndex maps "m2" to 1.
func memberIndex(t testing.TB, id string) int {
	var i int
	_, err := fmt.Sscanf(id, "m%d", &i)
	require.NoError(t, err, "member id %q", id)
	return i - 1
}

// stream writes batches of streamRows rows into each collection every
// 100 ms until stopped.
type stream struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	written map[string]*atomic.Int64
	failed  atomic.Int64
}

const streamRows = 100

func startStream(ctx context.Context, src client.Client, schemas ...*entity.Schema) *stream {
	ctx, cancel := context.WithCancel(ctx)
	s := &stream{cancel: cancel, written: map[string]*atomic.Int64{}}
	for _, schema := range schemas {
		n := &atomic.Int64{}
		s.written[schema.CollectionName] = n
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for from := 0; ctx.Err() == nil; {
				cctx, c := context.WithTimeout(ctx, 10*time.Second)
				err := insertInto(cctx, src, schema, "", from, streamRows, streamRows)
				c()
				// Keys are never reused: an insert that failed (or was cut
				// by stop) may still have landed.
				from += streamRows
				if err != nil {
					s.failed.Add(1)
					time.Sleep(200 * time.Millisecond)
					continue
				}
				n.Add(streamRows)
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	return s
}

func (s *stream) stop() { s.cancel(); s.wg.Wait() }

// clusterTasks creates one task per collection, each through another
// member (the creator owns it), and the collections on the source.
func clusterTasks(t *testing.T, ctx context.Context, ds []*Daemon, src, dst client.Client, prefix string, n int) ([]string, []*entity.Schema) {
	var ids []string
	var schemas []*entity.Schema
	for i := 0; i < n; i++ {
		schema := AllTypesSchema(UniqueName(fmt.Sprintf("%s%d", prefix, i)))
		ids = append(ids, ds[i%len(ds)].CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": schema.CollectionName}}}))
		replicatedCollection(t, ctx, src, dst, schema, 2)
		schemas = append(schemas, schema)
	}
	return ids, schemas
}

// requireExactCopy: the target holds every source row key by key with its
// values, and as many rows as the source (none lost, none duplicated; the
// source's keys are unique and at least every acknowledged insert is there).
func requireExactCopy(t *testing.T, ctx context.Context, src, dst client.Client, s *stream, schemas []*entity.Schema) {
	for _, schema := range schemas {
		coll := schema.CollectionName
		Eventually(t, ctx, catchUp, time.Second, "target equals source: "+coll, SameCollection(src, dst, coll, coll))
		n, err := CountRows(ctx, dst, coll)
		require.NoError(t, err)
		ns, err := CountRows(ctx, src, coll)
		require.NoError(t, err)
		require.GreaterOrEqual(t, ns, s.written[coll].Load(), "%s: every acknowledged insert is on the source", coll)
		require.EqualValues(t, ns, n, "%s: no row missing, none duplicated", coll)
		t.Logf("%s: %d rows (%d acknowledged inserts), key by key equal, 0 missing, 0 duplicated", coll, n, s.written[coll].Load())
	}
}

// TestClusterFailoverOnKill: three daemons share three tasks; the owner of
// one is killed with SIGKILL while rows stream in; another member takes the
// task from its checkpoint and rows flow again within the lease TTL + 5 s.
// Non-owners answer get, list and status of tasks they do not run.
func TestClusterFailoverOnKill(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	_, ds := startCluster(t, bed, 3)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	ids, schemas := clusterTasks(t, ctx, ds, src, dst, "e2e_ha_kill", 3)

	// Every member sees the three members and one task each.
	v := ds[2].cluster(t)
	require.True(t, v.Enabled)
	require.Len(t, v.Members, 3)
	for _, m := range v.Members {
		require.True(t, m.Healthy, "member %s", m.ID)
		require.Len(t, m.Tasks, 1, "member %s: one task each (the creator owns it)", m.ID)
	}

	// A non-owner answers get, status and list with the owner's view.
	owner := ds[0].ownerOf(t, ids[0])
	other := ds[(memberIndex(t, owner)+1)%3]
	var task struct {
		State    string `json:"state"`
		Owner    string `json:"owner"`
		Pipeline *struct {
			Replicating bool `json:"replicating"`
		} `json:"pipeline"`
	}
	other.getJSON(t, "/api/v1/tasks/"+ids[0], &task)
	require.Equal(t, "Running", task.State)
	require.Equal(t, owner, task.Owner)
	require.NotNil(t, task.Pipeline, "the owner's live pipeline status, through a non-owner")
	require.True(t, task.Pipeline.Replicating)
	var status struct {
		State    string          `json:"state"`
		Pipeline json.RawMessage `json:"pipeline"`
	}
	other.getJSON(t, "/api/v1/tasks/"+ids[0]+"/status", &status)
	require.Equal(t, "Running", status.State)
	require.NotEmpty(t, status.Pipeline)
	var list struct {
		Tasks []struct {
			ID    string `json:"id"`
			State string `json:"state"`
			Owner string `json:"owner"`
		} `json:"tasks"`
	}
	other.getJSON(t, "/api/v1/tasks", &list)
	require.Len(t, list.Tasks, 3)
	for _, lt := range list.Tasks {
		require.Equal(t, "Running", lt.State, lt.ID)
		require.NotEmpty(t, lt.Owner, lt.ID)
	}

	// Pause and resume through members that do not own the task.
	owner1 := ds[0].ownerOf(t, ids[1])
	via := ds[(memberIndex(t, owner1)+1)%3]
	viewer := ds[(memberIndex(t, owner1)+2)%3]
	via.post(t, "/api/v1/tasks/"+ids[1]+"/pause")
	var paused struct {
		State    string          `json:"state"`
		Owner    string          `json:"owner"`
		Pipeline json.RawMessage `json:"pipeline"`
	}
	viewer.getJSON(t, "/api/v1/tasks/"+ids[1], &paused)
	require.Equal(t, "Paused", paused.State)
	require.Equal(t, owner1, paused.Owner, "a paused task stays with its owner")
	require.Empty(t, paused.Pipeline, "the owner stopped the pipeline")
	via.post(t, "/api/v1/tasks/"+ids[1]+"/resume")
	viewer.waitReplicating(t, ids[1])

	// The same through the compatible API: pause, get and resume of a task
	// another member owns reach its owner, which stops and starts it.
	via.CDC(t, "pause", map[string]any{"task_id": ids[1]})
	state, _ := viewer.TaskState(t, ids[1])
	require.Equal(t, "Paused", state, "/cdc get through a non-owner")
	viewer.getJSON(t, "/api/v1/tasks/"+ids[1], &paused)
	require.Equal(t, owner1, paused.Owner)
	require.Empty(t, paused.Pipeline, "/cdc pause through a non-owner stopped the owner's pipeline")
	via.CDC(t, "resume", map[string]any{"task_id": ids[1]})
	viewer.waitReplicating(t, ids[1])
	pos := via.CDC(t, "position", map[string]any{"task_id": ids[1]})
	require.NotEmpty(t, pos["positions"], "/cdc position through a non-owner")

	s := startStream(ctx, src, schemas...)
	defer s.stop()
	victimColl := schemas[0].CollectionName
	for s.written[victimColl].Load() < 1000 {
		time.Sleep(50 * time.Millisecond)
	}
	victim := ds[memberIndex(t, owner)]
	victim.Kill(t)
	killedAt := time.Now()
	before, err := CountRows(ctx, dst, victimColl)
	require.NoError(t, err)
	t.Logf("killed %s (owner of %s) with %d rows written to the source, %d on the target", owner, ids[0], s.written[victimColl].Load(), before)

	var newOwner string
	var flowedAt time.Time
	Eventually(t, ctx, clusterTTL+20*time.Second, 100*time.Millisecond, "another member takes the task and rows flow again", func(ctx context.Context) (bool, string, error) {
		if newOwner == "" {
			if o := other.ownerOf(t, ids[0]); o != "" && o != owner {
				newOwner = o
				t.Logf("%s owns %s %.1f s after the kill", o, ids[0], time.Since(killedAt).Seconds())
			}
		}
		n, err := CountRows(ctx, dst, victimColl)
		if err != nil {
			return false, "", err
		}
		if newOwner != "" && n >= before+2*streamRows {
			flowedAt = time.Now()
			return true, "", nil
		}
		return false, fmt.Sprintf("owner %q, %d rows on the target", newOwner, n), nil
	})
	failover := flowedAt.Sub(killedAt)
	t.Logf("failover: rows flow again %.1f s after the owner was killed (lease TTL %s)", failover.Seconds(), clusterTTL)
	require.LessOrEqual(t, failover, clusterTTL+5*time.Second, "failover within TTL + 5 s")

	// Drain the new owner through the last member: the last takes every
	// task, from the drained member's final checkpoints.
	var last *Daemon
	for i, d := range ds {
		if id := fmt.Sprintf("m%d", i+1); id != owner && id != newOwner {
			last = d
		}
	}
	before, err = CountRows(ctx, dst, victimColl)
	require.NoError(t, err)
	drainAt := time.Now()
	last.post(t, "/api/v1/cluster/members/"+newOwner+"/drain")
	Eventually(t, ctx, 20*time.Second, 100*time.Millisecond, "the last member takes the drained member's task and rows flow", func(ctx context.Context) (bool, string, error) {
		n, err := CountRows(ctx, dst, victimColl)
		if err != nil {
			return false, "", err
		}
		o := last.ownerOf(t, ids[0])
		return o != newOwner && o != "" && n >= before+2*streamRows, fmt.Sprintf("owner %q, %d rows", o, n), nil
	})
	t.Logf("drain: rows flow again %.1f s after the drain of %s was asked", time.Since(drainAt).Seconds(), newOwner)

	time.Sleep(2 * time.Second)
	s.stop()
	requireExactCopy(t, ctx, src, dst, s, schemas)
	v = last.cluster(t)
	require.Len(t, v.Members, 2, "the killed member's registration went with its lease")
	require.Empty(t, v.Unowned)
	for _, m := range v.Members {
		if m.ID == newOwner {
			require.Empty(t, m.Tasks, "the drained member takes no task")
		} else {
			require.Len(t, m.Tasks, 3, "the last member runs every task")
		}
	}

	// Undrained (through the other member), the drained member gets a
	// share again: the last member hands tasks over until the counts
	// differ by at most one.
	last.post(t, "/api/v1/cluster/members/"+newOwner+"/undrain")
	Eventually(t, ctx, 30*time.Second, 250*time.Millisecond, "the undrained member runs tasks again", func(ctx context.Context) (bool, string, error) {
		counts := map[string]int{}
		for _, m := range last.cluster(t).Members {
			counts[m.ID] = len(m.Tasks)
		}
		return counts[newOwner] >= 1 && counts[newOwner]+counts[memberID(t, ds, last)] == 3, fmt.Sprint("tasks per member: ", counts), nil
	})
}

// memberID is the member ID of d among ds (m1, m2, …).
func memberID(t testing.TB, ds []*Daemon, d *Daemon) string {
	for i, x := range ds {
		if x == d {
			return fmt.Sprintf("m%d", i+1)
		}
	}
	t.Fatal("not a member of the cluster")
	return ""
}

// post sends a POST with no body and requires 200.
func (d *Daemon) post(t testing.TB, path string) {
	t.Helper()
	resp, err := d.client().Post(d.url(path), "application/json", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "POST %s: %s", path, raw)
}

// checkpointWatch records every checkpoint write of a task.
type checkpointWatch struct {
	mu     sync.Mutex
	writes []cpWrite
	cancel context.CancelFunc
}

type cpWrite struct {
	at      time.Time
	channel string
	ts      uint64
}

func watchCheckpoints(t *testing.T, bed *Bed, root, id string) *checkpointWatch {
	cli, err := clientv3.New(clientv3.Config{Endpoints: bed.EtcdEndpoints, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	w := &checkpointWatch{cancel: cancel}
	prefix := root + "/checkpoints/" + id + "/"
	ch := cli.Watch(ctx, prefix, clientv3.WithPrefix())
	go func() {
		defer cli.Close()
		for resp := range ch {
			for _, ev := range resp.Events {
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				var cp struct {
					Timestamp uint64 `json:"timestamp"`
				}
				if json.Unmarshal(ev.Kv.Value, &cp) == nil {
					w.mu.Lock()
					w.writes = append(w.writes, cpWrite{at: time.Now(), channel: strings.TrimPrefix(string(ev.Kv.Key), prefix), ts: cp.Timestamp})
					w.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(cancel)
	return w
}

func (w *checkpointWatch) snapshot() []cpWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]cpWrite(nil), w.writes...)
}

// TestClusterFencesAFrozenOwner: the owner of a task is frozen (SIGSTOP)
// for twice the lease TTL while rows stream in; another member takes the
// task; once continued (SIGCONT) the old owner writes no checkpoint and
// applies nothing: it notices it lost the task and says so in its log, the
// task's status and a metric.
func TestClusterFencesAFrozenOwner(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	root, ds := startCluster(t, bed, 3)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	ids, schemas := clusterTasks(t, ctx, ds, src, dst, "e2e_ha_stop", 2)
	owner := ds[0].ownerOf(t, ids[0])
	old := ds[memberIndex(t, owner)]
	other := ds[(memberIndex(t, owner)+1)%3]
	cps := watchCheckpoints(t, bed, root, ids[0])

	s := startStream(ctx, src, schemas...)
	defer s.stop()
	for s.written[schemas[0].CollectionName].Load() < 1000 {
		time.Sleep(50 * time.Millisecond)
	}
	old.Freeze(t)
	frozenAt := time.Now()
	t.Cleanup(func() { old.Thaw(t) })
	t.Logf("froze %s (owner of %s)", owner, ids[0])
	var newOwner string
	Eventually(t, ctx, clusterTTL+20*time.Second, 100*time.Millisecond, "another member takes the frozen owner's task", func(ctx context.Context) (bool, string, error) {
		newOwner = other.ownerOf(t, ids[0])
		return newOwner != "" && newOwner != owner, "owner " + newOwner, nil
	})
	t.Logf("%s owns %s %.1f s after the freeze", newOwner, ids[0], time.Since(frozenAt).Seconds())
	takenAt := time.Now()
	time.Sleep(time.Until(frozenAt.Add(2 * clusterTTL)))
	old.Thaw(t)
	thawedAt := time.Now()
	t.Logf("continued %s after %.1f s", owner, thawedAt.Sub(frozenAt).Seconds())

	// The old owner notices, within a few seconds, and says so.
	Eventually(t, ctx, 20*time.Second, 200*time.Millisecond, "the old owner reports the lost task", func(ctx context.Context) (bool, string, error) {
		var task struct {
			OwnershipLost string `json:"ownershipLost"`
		}
		// Requests to the old owner are forwarded to the new one; the
		// forwarded marker makes the old owner answer itself.
		raw, err := old.httpGetLocal(ctx, "/api/v1/tasks/"+ids[0])
		if err != nil {
			return false, err.Error(), nil
		}
		if err := json.Unmarshal(raw, &task); err != nil {
			return false, string(raw), nil
		}
		return task.OwnershipLost != "", string(raw), nil
	})
	log := old.Log(t)
	require.Contains(t, log, "no longer owns the task")
	metrics, err := old.httpGet(ctx, "/metrics")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^milvus_cdc_daemon_cluster_ownership_lost_total [1-9]`, string(metrics))

	time.Sleep(3 * time.Second)
	s.stop()
	requireExactCopy(t, ctx, src, dst, s, schemas)

	// The checkpoints never went back: no write of the old owner landed
	// after the new owner started (it would carry an older position).
	writes := cps.snapshot()
	last := map[string]uint64{}
	var afterTake, afterThaw int
	for _, w := range writes {
		if w.at.After(takenAt) {
			afterTake++
			require.GreaterOrEqual(t, w.ts, last[w.channel], "checkpoint of %s went back at %s", w.channel, w.at.Format(time.RFC3339Nano))
		}
		if w.at.After(thawedAt) {
			afterThaw++
		}
		last[w.channel] = max(last[w.channel], w.ts)
	}
	require.Positive(t, afterTake, "the new owner checkpoints")
	t.Logf("%d checkpoint writes, %d after the takeover, %d after the old owner continued; none went back", len(writes), afterTake, afterThaw)
}

// httpGetLocal is a GET the daemon serves itself, not forwarded to the
// task's owner.
func (d *Daemon) httpGetLocal(ctx context.Context, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url(path), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Milvus-Cdc-Forwarded-By", "e2e")
	resp, err := d.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestClusterRollingRestart: the three daemons of a cluster are restarted
// one after the other (SIGTERM: each hands its tasks over before it exits)
// while rows stream into three tasks; no task stays without an owner for
// longer than the lease TTL + 5 s, and the target ends as an exact copy.
func TestClusterRollingRestart(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	_, ds := startCluster(t, bed, 3)
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	ids, schemas := clusterTasks(t, ctx, ds, src, dst, "e2e_ha_roll", 3)
	s := startStream(ctx, src, schemas...)

	// Sample the cluster view, from a member that is not restarting, every
	// 250 ms: the longest time each task went without an owner.
	var asking atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(ctx)
	sampled := make(chan map[string]time.Duration)
	go func() {
		longest, since := map[string]time.Duration{}, map[string]time.Time{}
		for sampleCtx.Err() == nil {
			raw, err := ds[asking.Load()].httpGet(sampleCtx, "/api/v1/cluster")
			var v clusterView
			if err == nil && json.Unmarshal(raw, &v) == nil {
				owned := map[string]bool{}
				for _, m := range v.Members {
					for _, id := range m.Tasks {
						owned[id] = true
					}
				}
				now := time.Now()
				for _, id := range ids {
					if owned[id] {
						delete(since, id)
					} else if since[id].IsZero() {
						since[id] = now
					}
					if !since[id].IsZero() {
						longest[id] = max(longest[id], now.Sub(since[id]))
					}
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
		sampled <- longest
	}()

	time.Sleep(2 * time.Second)
	for i, d := range ds {
		asking.Store(int64((i + 1) % len(ds)))
		d.Stop(t)
		t.Logf("member m%d stopped (SIGTERM)", i+1)
		time.Sleep(time.Second)
		d.Start(t)
		t.Logf("member m%d started again", i+1)
		Eventually(t, ctx, clusterTTL+5*time.Second, 250*time.Millisecond, "every task owned after restarting m"+fmt.Sprint(i+1), func(ctx context.Context) (bool, string, error) {
			v := ds[(i+1)%len(ds)].cluster(t)
			return len(v.Unowned) == 0, fmt.Sprintf("unowned: %v", v.Unowned), nil
		})
		time.Sleep(2 * time.Second) // rows flow between restarts
	}
	// Each restarted member came back with no task; the others handed
	// tasks over until every member runs one again.
	Eventually(t, ctx, 30*time.Second, 250*time.Millisecond, "one task per member again", func(ctx context.Context) (bool, string, error) {
		v := ds[0].cluster(t)
		counts := []int{}
		for _, m := range v.Members {
			counts = append(counts, len(m.Tasks))
		}
		return len(counts) == 3 && counts[0] == 1 && counts[1] == 1 && counts[2] == 1, fmt.Sprintf("tasks per member: %v, unowned %v", counts, v.Unowned), nil
	})
	time.Sleep(2 * time.Second)
	s.stop()
	stopSampling()
	longest := <-sampled
	for _, id := range ids {
		t.Logf("task %s: longest without an owner %.2f s", id, longest[id].Seconds())
		require.LessOrEqual(t, longest[id], clusterTTL+5*time.Second, "task %s was unowned too long", id)
	}
	requireExactCopy(t, ctx, src, dst, s, schemas)
}

// Members whose API requires client certificates (mutual TLS) forward to
// each other with the cluster's client certificate: a non-owner answers a
// REST get with the owner's live pipeline, and a /cdc pause through it
// stops the owner's pipeline.
func TestClusterForwardsOverMutualTLS(t *testing.T) {
	bed := RequireBed(t)
	certs, err := testcerts.Write(t.TempDir())
	require.NoError(t, err)
	pem, err := os.ReadFile(certs.CA)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	clientCert, err := tls.LoadX509KeyPair(certs.ClientCert, certs.ClientKey)
	require.NoError(t, err)
	clientTLS := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}, MinVersion: tls.VersionTLS12}

	root := fmt.Sprintf("milvus-cdc-e2e-cluster-%d", time.Now().UnixNano())
	ds := make([]*Daemon, 2)
	for i := range ds {
		ds[i] = startDaemon(t, bed, clientTLS,
			"MILVUS_CDC_METASTORE_ROOTPATH="+root,
			fmt.Sprintf("MILVUS_CDC_CLUSTER_LEASETTL=%s", clusterTTL),
			fmt.Sprintf("MILVUS_CDC_CLUSTER_MEMBERID=m%d", i+1),
			"MILVUS_CDC_SERVER_TLS_CERTFILE="+certs.ServerCert,
			"MILVUS_CDC_SERVER_TLS_KEYFILE="+certs.ServerKey,
			"MILVUS_CDC_SERVER_TLS_CLIENTCAFILE="+certs.CA,
			"MILVUS_CDC_CLUSTER_TLS_CERTFILE="+certs.ClientCert,
			"MILVUS_CDC_CLUSTER_TLS_KEYFILE="+certs.ClientKey)
	}
	ctx := context.Background()
	src, dst := bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	ids, _ := clusterTasks(t, ctx, ds[:1], src, dst, "e2e_ha_tls", 1)
	owner := ds[1].ownerOf(t, ids[0])
	require.Equal(t, "m1", owner)

	// A task's view as get shows it; a fresh value per read, since a field
	// absent from the body would keep an earlier read's value.
	type taskView struct {
		State    string          `json:"state"`
		Owner    string          `json:"owner"`
		Pipeline json.RawMessage `json:"pipeline"`
	}
	var view, paused taskView
	ds[1].getJSON(t, "/api/v1/tasks/"+ids[0], &view)
	require.Equal(t, "m1", view.Owner)
	require.NotEmpty(t, view.Pipeline, "the owner's live pipeline, forwarded over mutual TLS")

	ds[1].CDC(t, "pause", map[string]any{"task_id": ids[0]})
	ds[0].getJSON(t, "/api/v1/tasks/"+ids[0], &paused)
	require.Equal(t, "Paused", paused.State)
	require.Empty(t, paused.Pipeline, "/cdc pause through m2 stopped m1's pipeline")
	ds[1].CDC(t, "resume", map[string]any{"task_id": ids[0]})
	ds[0].waitReplicating(t, ids[0])
}
