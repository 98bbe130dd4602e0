//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// bedProcess is one process of the bed, controlled through the PID file
// testbed.sh writes ("pid starttime"); restarting it re-runs its exact
// command line, environment and working directory, and updates the PID file
// so `testbed.sh down` still stops it.
type bedProcess struct {
	name, pidFile, logFile string
	// ready returns nil once the process serves again.
	ready     func() error
	args, env []string
	dir       string
}

func targetProcess(t *testing.T, bed *Bed) *bedProcess {
	t.Helper()
	healthURL := bed.Env["TARGET_MILVUS_HEALTH_URL"]
	require.NotEmpty(t, healthURL, "TARGET_MILVUS_HEALTH_URL missing from %s", bed.EnvFile)
	return attachBedProcess(t, bed, "target milvus", "dst", filepath.Join("dst", "logs", "stdout.log"), func() error {
		resp, err := http.Get(healthURL)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return previousSessionsGone(bed, bed.TargetRoot)
	})
}

// previousSessionsGone reports whether the etcd sessions a Milvus
// standalone left behind when it stopped have expired. A restarted Milvus
// answers its health check at once, but until the old node sessions
// ("querynode-1" beside the new "querynode-2") expire, its coordinators keep
// calling the dead nodes ("node not match"): for about 20 s loads and
// partition listings hang, which belongs to the restart, not to whatever
// the next test checks.
func previousSessionsGone(bed *Bed, root string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: bed.EtcdEndpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	prefix := root + "/meta/session/"
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	newest, ids := int64(0), map[string]int64{}
	for _, kv := range resp.Kvs {
		key := strings.TrimPrefix(string(kv.Key), prefix)
		i := strings.LastIndexByte(key, '-')
		if i < 0 {
			continue // a coordinator's session: one key, taken over by the new process
		}
		id, err := strconv.ParseInt(key[i+1:], 10, 64)
		if err != nil {
			continue
		}
		ids[key] = id
		newest = max(newest, id)
	}
	var stale []string
	for key, id := range ids {
		if id < newest {
			stale = append(stale, key)
		}
	}
	if len(stale) > 0 {
		sort.Strings(stale)
		return fmt.Errorf("sessions of the previous process not expired yet: %v", stale)
	}
	return nil
}

// attachBedProcess reads the running process of a bed component (its
// directory under the bed's state) so it can be stopped and started again.
func attachBedProcess(t *testing.T, bed *Bed, name, component, logFile string, ready func() error) *bedProcess {
	t.Helper()
	state := filepath.Dir(bed.EnvFile)
	p := &bedProcess{name: name, pidFile: filepath.Join(state, component, "pid"), logFile: filepath.Join(state, logFile), ready: ready}
	pid := p.pid(t)
	read := func(name string) []string {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
		require.NoError(t, err)
		return strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	}
	p.args, p.env = read("cmdline"), read("environ")
	dir, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	require.NoError(t, err)
	p.dir = dir
	return p
}

func (p *bedProcess) pid(t *testing.T) int {
	t.Helper()
	raw, err := os.ReadFile(p.pidFile)
	require.NoError(t, err, "the bed's PID file of the %s", p.name)
	pid, err := strconv.Atoi(strings.Fields(string(raw))[0])
	require.NoError(t, err)
	return pid
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// stop ends the process like testbed.sh does: SIGTERM, SIGKILL after 20 s.
func (p *bedProcess) stop(t *testing.T) {
	t.Helper()
	pid := p.pid(t)
	require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for alive(pid) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%s (pid %d) stopped", p.name, pid)
}

// kill ends the process with SIGKILL at once, as a crash does.
func (p *bedProcess) kill(t *testing.T) {
	t.Helper()
	pid := p.pid(t)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	for alive(pid) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s (pid %d) killed", p.name, pid)
}

// start runs the process again and waits until it is ready.
func (p *bedProcess) start(t *testing.T) {
	t.Helper()
	log, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer log.Close()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = p.env, p.dir, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	go func() { _ = cmd.Wait() }() // reap it if it exits while the test runs
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	require.NoError(t, err)
	// The start time testbed.sh records: field 22, counted after "(comm) ".
	rest := string(stat)[strings.LastIndex(string(stat), ") ")+2:]
	start := strings.Fields(rest)[19]
	require.NoError(t, os.WriteFile(p.pidFile, []byte(fmt.Sprintf("%d %s\n", cmd.Process.Pid, start)), 0o644))
	Eventually(t, context.Background(), 2*time.Minute, 500*time.Millisecond, p.name+" healthy", func(ctx context.Context) (bool, string, error) {
		if err := p.ready(); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	t.Logf("%s restarted (pid %d)", p.name, cmd.Process.Pid)
}

// outageStatus is the part of the status this test reads.
type outageStatus struct {
	Pipeline *struct {
		State      string   `json:"state"`
		LagSeconds *float64 `json:"lagSeconds"`
		Error      *struct {
			Stage   string `json:"stage"`
			Message string `json:"message"`
		} `json:"error"`
		Channels []struct {
			Channel    string   `json:"channel"`
			Kind       string   `json:"kind"`
			LagSeconds *float64 `json:"lagSeconds"`
		} `json:"channels"`
	} `json:"pipeline"`
}

func (d *Daemon) outageStatus(t *testing.T, id string) outageStatus {
	t.Helper()
	var st outageStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
	require.NotNil(t, st.Pipeline, "a running task has a pipeline status")
	return st
}

// TestStatusThroughATargetOutageAndARestart: with the target stopped the
// state turns retrying with the apply error and the lag grows second by
// second; a daemon restarted meanwhile reports the right lag on its first
// poll (the stored checkpoint's age, not zero and not unknown) and keeps it
// growing; once the target is back everything arrives and the lag falls.
func TestStatusThroughATargetOutageAndARestart(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	target := targetProcess(t, bed)
	d := StartDaemon(t, bed)
	src, dst, schema, id := replicatingTask(t, ctx, bed, d, "e2e_outage", 500)
	coll := schema.CollectionName

	// (1) Target down: retrying with the apply error, lag growing.
	target.stop(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			target.start(t) // leave the bed whole for the next tests
		}
	})
	require.NoError(t, insertInto(ctx, src, schema, "", 500, 500, 500))
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "state retrying", func(context.Context) (bool, string, error) {
		st := d.outageStatus(t, id)
		return st.Pipeline.State == "retrying" && st.Pipeline.Error != nil, fmt.Sprintf("state %s", st.Pipeline.State), nil
	})
	st := d.outageStatus(t, id)
	require.Equal(t, "apply", st.Pipeline.Error.Stage)
	require.NotEmpty(t, st.Pipeline.Error.Message)
	t.Logf("target down: state %s, error %q", st.Pipeline.State, st.Pipeline.Error.Message)
	require.NotNil(t, st.Pipeline.LagSeconds)
	before := *st.Pipeline.LagSeconds
	time.Sleep(3 * time.Second)
	st = d.outageStatus(t, id)
	require.GreaterOrEqual(t, *st.Pipeline.LagSeconds, before+2.5, "the lag grows while nothing is applied")
	lagAtStop := *st.Pipeline.LagSeconds

	// (2) Daemon restarted while the target is still down: the first poll
	// already has the lag (the stored checkpoint's age), and it keeps growing.
	stopAt := time.Now()
	d.Stop(t)
	time.Sleep(3 * time.Second)
	d.Start(t)
	first := d.outageStatus(t, id)
	require.NotNil(t, first.Pipeline.LagSeconds, "the lag is known on the first poll after a restart: %+v", first.Pipeline)
	down := time.Since(stopAt).Seconds()
	t.Logf("first poll after the restart: lag %.2fs (%.2fs before the stop, daemon down %.2fs)", *first.Pipeline.LagSeconds, lagAtStop, down)
	require.GreaterOrEqual(t, *first.Pipeline.LagSeconds, lagAtStop+down-1.5, "not reset by the restart")
	time.Sleep(2 * time.Second)
	second := d.outageStatus(t, id)
	require.GreaterOrEqual(t, *second.Pipeline.LagSeconds, *first.Pipeline.LagSeconds+1.5, "not frozen")

	// (3) Target back: every row arrives, the state is running, the lag falls.
	target.start(t)
	restarted = true
	Eventually(t, ctx, catchUp, time.Second, "rows written during the outage", SameCollection(src, dst, coll, coll))
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "running and caught up", func(context.Context) (bool, string, error) {
		st := d.outageStatus(t, id)
		ok := st.Pipeline.State == "running" && st.Pipeline.LagSeconds != nil && *st.Pipeline.LagSeconds < 2
		return ok, fmt.Sprintf("state %s, lag %v", st.Pipeline.State, st.Pipeline.LagSeconds), nil
	})
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 1_000, n)
}

// freeze stops the process with SIGSTOP: it keeps its sockets and answers
// nothing, like a hung host.
func (p *bedProcess) freeze(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(p.pid(t), syscall.SIGSTOP))
}

// thaw continues a frozen process.
func (p *bedProcess) thaw(t *testing.T) {
	t.Helper()
	require.NoError(t, syscall.Kill(p.pid(t), syscall.SIGCONT))
}

// TestStatusWhileTheTargetHangs: a target that neither answers nor refuses
// (its process frozen) must not leave the status saying "replicating". Once
// a call has gone unanswered for 10 s the task is stalled and names the
// call; when the target answers again every row arrives.
func TestStatusWhileTheTargetHangs(t *testing.T) {
	bed := RequireBed(t)
	ctx := context.Background()
	d := StartDaemon(t, bed)
	src, dst, schema, id := replicatingTask(t, ctx, bed, d, "e2e_hang", 200)
	coll := schema.CollectionName

	target := targetProcess(t, bed)
	target.freeze(t)
	thawed := false
	defer func() {
		if !thawed {
			target.thaw(t)
		}
	}()
	require.NoError(t, insertInto(ctx, src, schema, "", 200, 300, 100))
	var stalled string
	seen := map[string]bool{}
	for deadline := time.Now().Add(16 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		st := d.hangStatus(t, id)
		seen[fmt.Sprintf("%s/replicating=%v", st.Pipeline.State, st.Pipeline.Replicating)] = true
		if !st.Pipeline.Replicating && strings.Contains(st.Pipeline.Detail, "waiting on the target") {
			stalled = st.Pipeline.Detail
		}
	}
	target.thaw(t)
	thawed = true
	t.Logf("status during the freeze: %v; %q", seen, stalled)
	require.NotEmpty(t, stalled, "the status says the target does not answer")
	require.Contains(t, stalled, "has had no answer for")

	Eventually(t, ctx, catchUp, time.Second, "rows written while the target hung", SameCollection(src, dst, coll, coll))
	Eventually(t, ctx, time.Minute, 500*time.Millisecond, "replicating again", func(context.Context) (bool, string, error) {
		st := d.hangStatus(t, id)
		return st.Pipeline.Replicating, st.Pipeline.State + ": " + st.Pipeline.Detail, nil
	})
	n, err := CountRows(ctx, dst, coll)
	require.NoError(t, err)
	require.EqualValues(t, 500, n)
}

type hangStatus struct {
	Pipeline struct {
		State       string `json:"state"`
		Detail      string `json:"detail"`
		Replicating bool   `json:"replicating"`
	} `json:"pipeline"`
}

func (d *Daemon) hangStatus(t *testing.T, id string) hangStatus {
	t.Helper()
	var st hangStatus
	d.getJSON(t, "/api/v1/tasks/"+id+"/status", &st)
	return st
}

// replicatingTask creates a task for a new one-shard collection of every
// field type, creates and loads the collection on the source, writes rows
// keys 0 to rows-1 and waits until the target equals the source.
func replicatingTask(t *testing.T, ctx context.Context, bed *Bed, d *Daemon, prefix string, rows int) (src, dst client.Client, schema *entity.Schema, id string) {
	t.Helper()
	src, dst = bed.ConnectSource(t, ctx), bed.ConnectTarget(t, ctx)
	schema = AllTypesSchema(UniqueName(prefix))
	coll := schema.CollectionName
	id = d.CreateTask(t, map[string]any{"collection_infos": []any{map[string]any{"name": coll}}})
	replicatedCollection(t, ctx, src, dst, schema, 1)
	require.NoError(t, insertInto(ctx, src, schema, "", 0, rows, rows))
	Eventually(t, ctx, catchUp, time.Second, fmt.Sprintf("the first %d rows", rows), SameCollection(src, dst, coll, coll))
	return src, dst, schema, id
}
