//go:build e2e && nemesis

package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	pulsarlog "github.com/apache/pulsar-client-go/pulsar/log"
	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The fault suite (make nemesis): every case streams rows with known keys
// (inserts and deletes) into a source collection through one fault, lets the
// task catch up, and then validates what the target holds against the
// source: every key with every value, the row count (a replayed insert shows
// as a count above the distinct keys), index and load state. During the
// fault the status is sampled twice a second, and the cases that take a
// component away require that it never claimed rows were flowing once the
// fault had lasted faultGrace. Each case adds a row to the table the suite
// prints (and writes to $NEMESIS_RESULTS).

// faultGrace is how long a fault may last before the status must say so:
// the pipeline calls a source channel silent after 10 s without a tick.
const faultGrace = 15 * time.Second

// nemesisResult is one row of the table.
type nemesisResult struct {
	Case                                  string
	Written, OnTarget                     int
	Missing, Extra, Differing, Duplicated int
	CatchUp                               time.Duration
	StatusSeen                            string
}

var nemesisTable struct {
	mu   sync.Mutex
	rows []nemesisResult
}

// nemesisRun is the state a fault works on.
type nemesisRun struct {
	bed      *Bed
	d        *Daemon
	taskID   string
	src, dst client.Client
	schema   *entity.Schema
	stream   *rowStream
	watch    *StatusWatch
	from, to time.Time // the fault's span
}

func (r *nemesisRun) begin() { r.from = time.Now() }
func (r *nemesisRun) end()   { r.to = time.Now() }

type nemesisCase struct {
	name string
	// outage: the status must not claim rows flow during the fault (after
	// faultGrace); a daemon kill has no status to ask.
	outage bool
	fault  func(t *testing.T, r *nemesisRun)
	// check runs after the validation, for what a case shows besides rows.
	check func(t *testing.T, r *nemesisRun)
}

func TestNemesis(t *testing.T) {
	bed := RequireBed(t)
	cases := []nemesisCase{
		{name: "daemon kill -9, three times", fault: killLoop},
		{name: "target down 60 s", outage: true, fault: stopped(targetProcess, 60*time.Second)},
		{name: "broker restart", outage: true, fault: stopped(brokerProcess, 20*time.Second)},
		{name: "etcd restart (source catalog and task store)", fault: stopped(etcdProcess, 10*time.Second), check: func(t *testing.T, r *nemesisRun) {
			samples := r.watch.Between(r.from, r.to)
			require.NotEmpty(t, samples)
			for _, s := range samples {
				require.NoError(t, s.Err, "status answers while etcd is down: %s", s)
			}
		}},
		{name: "junk bytes in every source channel", fault: func(t *testing.T, r *nemesisRun) {
			r.begin()
			produceJunk(t, r.bed, 5)
			time.Sleep(5 * time.Second) // the span the status is judged on
			r.end()
		}, check: func(t *testing.T, r *nemesisRun) {
			Eventually(t, context.Background(), time.Minute, time.Second, "the junk counted as skipped", func(ctx context.Context) (bool, string, error) {
				n := skippedCount(t, r.d, r.taskID, "undecodable message")
				return n > 0, fmt.Sprintf("skipped undecodable messages: %d", n), nil
			})
		}},
		{name: "drop and recreate under the same name while streaming", fault: dropAndRecreate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runNemesisCase(t, bed, c) })
	}
	printNemesisTable(t)
}

func runNemesisCase(t *testing.T, bed *Bed, c nemesisCase) {
	ctx := context.Background()
	r := &nemesisRun{bed: bed, d: StartDaemon(t, bed)}
	r.src, r.dst = bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	r.schema = AllTypesSchema(UniqueName("e2e_nemesis"))
	coll := r.schema.CollectionName
	r.taskID = r.d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	replicatedCollection(t, ctx, r.src, r.dst, r.schema, 2)
	watch := r.d.WatchStatus(t, r.taskID, 500*time.Millisecond)
	r.watch = watch

	r.stream = startRowStream(ctx, r.src, r.schema)
	time.Sleep(3 * time.Second) // rows flow before the fault
	c.fault(t, r)
	time.Sleep(3 * time.Second) // and after it
	written := r.stream.stop()
	t.Logf("%s: %d rows written to the source (%d insert calls refused during the fault)", c.name, written, r.stream.refused.Load())

	seen := summarizeStatus(watch.Between(r.from, r.to))
	if c.outage {
		healthy := watch.HealthyClaims(r.from.Add(faultGrace), r.to)
		require.Empty(t, healthy, "during %s the status claimed rows flow: %v", c.name, healthy)
	}
	coll = r.schema.CollectionName // a case may have recreated it
	Eventually(t, ctx, catchUp, time.Second, "target equals source after "+c.name, SameCollection(r.src, r.dst, coll, coll))
	catchUpTime := time.Since(r.to)
	res := validateNemesis(t, ctx, r, c.name)
	res.CatchUp, res.StatusSeen = catchUpTime, seen
	nemesisTable.mu.Lock()
	nemesisTable.rows = append(nemesisTable.rows, res)
	nemesisTable.mu.Unlock()
	require.Zero(t, res.Missing+res.Extra+res.Differing+res.Duplicated, "%+v", res)
	if c.check != nil {
		c.check(t, r)
	}
}

// validateNemesis compares the collection key by key and by count, and its
// index and load state.
func validateNemesis(t *testing.T, ctx context.Context, r *nemesisRun, name string) nemesisResult {
	t.Helper()
	coll := r.schema.CollectionName
	srcRows, err := QueryAllRows(ctx, r.src, coll)
	require.NoError(t, err)
	dstRows, err := QueryAllRows(ctx, r.dst, coll)
	require.NoError(t, err)
	missing, extra, values := CompareRows(srcRows, dstRows)
	srcCount, err := CountRows(ctx, r.src, coll)
	require.NoError(t, err)
	dstCount, err := CountRows(ctx, r.dst, coll)
	require.NoError(t, err)
	// The source may hold duplicates itself (an insert retried by its
	// client): the target must hold exactly as many.
	dup := int(dstCount-int64(len(dstRows))) - int(srcCount-int64(len(srcRows)))
	for _, f := range r.schema.Fields {
		if f.DataType != entity.FieldTypeFloatVector && f.DataType != entity.FieldTypeBinaryVector {
			continue
		}
		want, err := indexSummary(ctx, r.src, coll, f.Name)
		require.NoError(t, err)
		got, err := indexSummary(ctx, r.dst, coll, f.Name)
		require.NoError(t, err)
		require.Equal(t, want, got, "index of %s.%s on the target", coll, f.Name)
	}
	for _, c := range []client.Client{r.src, r.dst} {
		s, err := c.GetLoadState(ctx, coll, nil)
		require.NoError(t, err)
		require.Equal(t, entity.LoadStateLoaded, s, "load state of %s", coll)
	}
	return nemesisResult{Case: name, Written: int(srcCount), OnTarget: len(dstRows),
		Missing: len(missing), Extra: len(extra), Differing: len(values), Duplicated: dup}
}

// rowStream inserts batches of rows with increasing keys, one every 200 ms,
// and deletes a few keys of an older batch every fourth batch. Refused calls
// (the source itself may be down during a fault) are counted and skipped:
// the source's own content is the truth the validation compares with.
type rowStream struct {
	cancel  context.CancelFunc
	done    chan struct{}
	written atomic.Int64
	refused atomic.Int64
	mu      sync.Mutex
	schema  *entity.Schema
	next    int
}

// streamBatch rows every streamEvery: 500 rows/s of every field type, a
// backlog the catch-up and the full comparison of both sides absorb in a
// minute after a 60 s outage on the bed's two cores.
const (
	streamBatch = 100
	streamEvery = 200 * time.Millisecond
)

func startRowStream(ctx context.Context, src client.Client, schema *entity.Schema) *rowStream {
	ctx, cancel := context.WithCancel(ctx)
	s := &rowStream{cancel: cancel, done: make(chan struct{}), schema: schema}
	go func() {
		defer close(s.done)
		for i := 0; ctx.Err() == nil; i++ {
			s.mu.Lock()
			schema, from := s.schema, s.next
			s.next += streamBatch
			s.mu.Unlock()
			callCtx, cancelCall := context.WithTimeout(ctx, 10*time.Second)
			if err := insertInto(callCtx, src, schema, "", from, streamBatch, streamBatch); err != nil {
				s.refused.Add(1)
			} else {
				s.written.Add(streamBatch)
			}
			if i%4 == 3 && from >= 2*streamBatch {
				old := int64(from - 2*streamBatch)
				if err := src.Delete(callCtx, schema.CollectionName, "", inExpr(int64Range(old, old+20))); err != nil {
					s.refused.Add(1)
				}
			}
			cancelCall()
			select {
			case <-ctx.Done():
			case <-time.After(streamEvery):
			}
		}
	}()
	return s
}

func (s *rowStream) stop() int64 {
	s.cancel()
	<-s.done
	return s.written.Load()
}

// stopped is the fault of a bed process stopped for hold, then started.
func stopped(process func(*testing.T, *Bed) *bedProcess, hold time.Duration) func(*testing.T, *nemesisRun) {
	return func(t *testing.T, r *nemesisRun) {
		p := process(t, r.bed)
		r.begin()
		p.stop(t)
		time.Sleep(hold)
		p.start(t)
		r.end()
	}
}

func killLoop(t *testing.T, r *nemesisRun) {
	r.begin()
	for i := 0; i < 3; i++ {
		r.d.Kill(t)
		time.Sleep(2 * time.Second)
		r.d.Start(t)
		time.Sleep(4 * time.Second)
	}
	r.end()
}

// dropAndRecreate drops the streamed collection on the source and creates
// it again under its name with the same schema, index and load; the stream
// goes on into the new one.
func dropAndRecreate(t *testing.T, r *nemesisRun) {
	ctx := context.Background()
	r.begin()
	fresh := AllTypesSchema(r.schema.CollectionName)
	r.stream.mu.Lock() // no insert runs while the collection changes
	require.NoError(t, r.src.DropCollection(ctx, r.schema.CollectionName))
	require.NoError(t, CreateCollection(ctx, r.src, fresh, 2))
	require.NoError(t, EnsureLoaded(ctx, r.src, fresh.CollectionName))
	r.stream.schema, r.stream.next = fresh, 1_000_000
	r.stream.mu.Unlock()
	r.schema = fresh
	r.end()
}

func bedProcessOf(t *testing.T, bed *Bed, name, component string, ready func() error) *bedProcess {
	return attachBedProcess(t, bed, name, component, filepath.Join(component, component+".log"), ready)
}

func brokerProcess(t *testing.T, bed *Bed) *bedProcess {
	if bed.MQType == "kafka" {
		return bedProcessOf(t, bed, "kafka", "kafka", func() error {
			c, err := net.DialTimeout("tcp", bed.KafkaBrokers[0], time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}
	web := bed.Env["PULSAR_WEB_ADDRESS"]
	return bedProcessOf(t, bed, "pulsar", "pulsar", func() error { return httpOK(web + "/admin/v2/brokers/health") })
}

func etcdProcess(t *testing.T, bed *Bed) *bedProcess {
	endpoint := strings.Split(bed.Env["ETCD_ENDPOINTS"], ",")[0]
	return bedProcessOf(t, bed, "etcd", "etcd", func() error { return httpOK(endpoint + "/health") })
}

func httpOK(url string) error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// produceJunk writes n random payloads to every source DML channel and to
// the replicate channel, as a foreign producer would.
func produceJunk(t *testing.T, bed *Bed, n int) {
	t.Helper()
	channels := append(splitList(bed.Env["SOURCE_DML_CHANNELS"]), bed.Env["REPLICATE_CHANNEL"])
	junk := func() []byte {
		b := make([]byte, 64)
		_, _ = rand.Read(b)
		return b
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch bed.MQType {
	case "kafka":
		cl, err := kgo.NewClient(kgo.SeedBrokers(bed.KafkaBrokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		require.NoError(t, err)
		defer cl.Close()
		for _, ch := range channels {
			for i := 0; i < n; i++ {
				require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: ch, Partition: 0, Value: junk()}).FirstErr())
			}
		}
	default:
		cl, err := pulsar.NewClient(pulsar.ClientOptions{URL: bed.PulsarAddress, Logger: pulsarlog.DefaultNopLogger()})
		require.NoError(t, err)
		defer cl.Close()
		for _, ch := range channels {
			p, err := cl.CreateProducer(pulsar.ProducerOptions{Topic: fmt.Sprintf("persistent://%s/%s/%s", bed.PulsarTenant, bed.PulsarNamespace, ch)})
			require.NoError(t, err)
			for i := 0; i < n; i++ {
				_, err := p.Send(ctx, &pulsar.ProducerMessage{Payload: junk()})
				require.NoError(t, err)
			}
			p.Close()
		}
	}
	t.Logf("%d junk messages written to each of %v", n, channels)
}

// skippedCount is the status's count of skips for reason.
func skippedCount(t *testing.T, d *Daemon, id, reason string) int64 {
	var task struct {
		Pipeline struct {
			Skipped []struct {
				Reason string `json:"reason"`
				Count  int64  `json:"count"`
			} `json:"skipped"`
		} `json:"pipeline"`
	}
	d.getJSON(t, "/api/v1/tasks/"+id, &task)
	var n int64
	for _, s := range task.Pipeline.Skipped {
		if s.Reason == reason {
			n += s.Count
		}
	}
	return n
}

// summarizeStatus names the distinct states the status showed, in order of
// first appearance.
func summarizeStatus(samples []StatusSample) string {
	var out []string
	seen := map[string]bool{}
	for _, s := range samples {
		k := "poll failed"
		if s.Err == nil {
			k = fmt.Sprintf("%s/replicating=%v", s.PipeState, s.Replicating)
			if s.PipeState == "" {
				k = s.TaskState + "/no pipeline"
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return "(daemon down)"
	}
	return strings.Join(out, ", ")
}

func printNemesisTable(t *testing.T) {
	nemesisTable.mu.Lock()
	rows := append([]nemesisResult(nil), nemesisTable.rows...)
	nemesisTable.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "| case | rows on source | on target | missing | extra | differing | duplicated | catch-up s | status during the fault |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %.1f | %s |\n", r.Case, r.Written, r.OnTarget, r.Missing, r.Extra, r.Differing, r.Duplicated, r.CatchUp.Seconds(), r.StatusSeen)
	}
	t.Logf("fault suite results:\n%s", b.String())
	if path := os.Getenv("NEMESIS_RESULTS"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
}
