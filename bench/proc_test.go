package bench

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A real /proc/PID/stat line of a Go process (fields 14/15: utime 1234, stime 566).
const statLine = "4242 (milvus-cdc) S 1 4242 4242 0 -1 4194560 9000 0 0 0 1234 566 0 0 20 0 12 0 777 2000000000 30000 18446744073709551615 1 1 0 0 0 0 0 0 2143420159 0 0 0 17 1 0 0 0 0 0\n"

func TestParseCPUSeconds(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    float64
		wantErr string
	}{
		{"plain", statLine, 18.0, ""},
		{"command with spaces and parentheses", "7 (a b) (c)) R 1 7 7 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 5 100 10", 3.0, ""},
		{"zero", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 100 10", 0, ""},
		{"no parenthesis", "1 x S 0", 0, "no ')'"},
		{"truncated", "1 (x) S 0 1 1", 0, "want at least 13"},
		{"utime not a number", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 u 0 0 0 20", 0, "utime \"u\""},
		{"stime negative", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 -2 0 0 20", 0, "stime \"-2\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCPUSeconds(tc.stat)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrProcFormat)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.InDelta(t, tc.want, got, 1e-9)
		})
	}
}

func TestParseStatusKiB(t *testing.T) {
	status := "Name:\tmilvus-cdc\nVmPeak:\t 2000000 kB\nVmHWM:\t  105472 kB\nVmRSS:\t   98000 kB\nThreads:\t12\n"
	tests := []struct {
		name    string
		status  string
		key     string
		want    uint64
		wantErr string
	}{
		{"peak RSS", status, "VmHWM", 105472, ""},
		{"current RSS", status, "VmRSS", 98000, ""},
		{"meminfo layout", "MemTotal:       24576000 kB\nMemFree: 1 kB\n", "MemTotal", 24576000, ""},
		{"prefix of another key does not match", status, "VmH", 0, "no VmH line"},
		{"missing key", "Name:\tx\n", "VmHWM", 0, "no VmHWM line"},
		{"no unit", "Threads:\t12\n", "Threads", 0, "want \"N kB\""},
		{"not a number", "VmHWM:\t  x kB\n", "VmHWM", 0, "value \"x\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatusKiB(tc.status, tc.key)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrProcFormat)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseTargetCalls(t *testing.T) {
	expo := `# HELP milvus_cdc_daemon_pipeline_apply_duration_seconds Latency of each call
# TYPE milvus_cdc_daemon_pipeline_apply_duration_seconds histogram
milvus_cdc_daemon_pipeline_apply_duration_seconds_bucket{op="Upsert",task_id="a",le="0.001"} 0
milvus_cdc_daemon_pipeline_apply_duration_seconds_sum{op="Upsert",task_id="a"} 12.5
milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="Upsert",task_id="a"} 40
milvus_cdc_daemon_pipeline_apply_duration_seconds_sum{op="CreateCollection",task_id="a"} 0.25
milvus_cdc_daemon_pipeline_apply_duration_seconds_count{op="CreateCollection",task_id="a"} 1
milvus_cdc_daemon_pipeline_rows_applied_total{op="insert",task_id="a"} 99
`
	secs, calls, err := ParseTargetCalls(expo)
	require.NoError(t, err)
	require.InDelta(t, 12.75, secs, 1e-9)
	require.InDelta(t, 41, calls, 1e-9)

	secs, calls, err = ParseTargetCalls("go_goroutines 7\n")
	require.NoError(t, err)
	require.Zero(t, secs)
	require.Zero(t, calls)

	_, _, err = ParseTargetCalls("milvus_cdc_daemon_pipeline_apply_duration_seconds_sum{op=\"Upsert\"} x\n")
	require.ErrorContains(t, err, "metric line")
}

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    string
		wantErr string
	}{
		{"real line", statLine, "777", ""},
		{"command with parentheses", "7 (a (b)) R 1 7 7 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 4242 100 10", "4242", ""},
		{"no parenthesis", "1 x S", "", "no ')'"},
		{"truncated", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 2", "", "want at least 20"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStartTime(tc.stat)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, ErrProcFormat)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestWindow(t *testing.T) {
	var w Window
	require.Zero(t, w.Mean())
	for _, v := range []float64{40, 60, 50} {
		w.Add(v)
	}
	require.Equal(t, 3, w.N)
	require.InDelta(t, 50, w.Mean(), 1e-9)
	require.InDelta(t, 60, w.Max, 1e-9)
	var neg Window
	neg.Add(-2)
	require.InDelta(t, -2, neg.Max, 1e-9, "the first sample is the max, whatever its sign")
}

func TestBusyComponents(t *testing.T) {
	cpu := map[string]float64{"src": 0.9, "dst": 0.1, "pulsar": 0.3, "etcd": 0.02}
	require.Equal(t, []string{"pulsar 0.15", "src 0.45"}, BusyComponents(cpu, 2, 0.10))
	require.Empty(t, BusyComponents(cpu, 2, 1))
	require.Empty(t, BusyComponents(cpu, 0, 0.1), "no window, no verdict")
}
