package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/bench"
)

func TestSpotKeys(t *testing.T) {
	tests := []struct {
		name    string
		first   int64
		rows, n int
		want    []int64
	}{
		{"both ends and evenly between", 0, 100, 5, []int64{0, 24, 49, 74, 99}},
		{"offset keys", 1000, 10, 2, []int64{1000, 1009}},
		{"more keys than rows: every row once", 0, 3, 16, []int64{0, 1, 2}},
		{"one key", 5, 10, 1, []int64{5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := spotKeys(tc.first, tc.rows, tc.n)
			require.Equal(t, tc.want, got)
		})
	}
	require.Empty(t, spotKeys(0, 0, 4))
}

func TestParsePlan(t *testing.T) {
	base := options{mqs: "pulsar,kafka", modes: "api,replicate", dims: "128", batches: "100", rows: 10, bedMode: "up",
		costMQs: "pulsar", costTasks: "1,4", costColls: "1,16", costLoad: 1000, costDim: 128, costBatch: 100, lagFor: time.Second}
	tests := []struct {
		name    string
		edit    func(*options)
		wantErr string
		check   func(t *testing.T, p plan)
	}{
		{"defaults", func(*options) {}, "", func(t *testing.T, p plan) {
			require.Len(t, p.cfgs, 4)
			require.Equal(t, map[string]bool{"pulsar": true}, p.costMQs)
			require.Equal(t, []int{1, 4}, p.costTasks)
			require.Equal(t, "working tree", p.daemonName)
		}},
		{"a revision to build", func(o *options) { o.daemonRev = "HEAD~1"; o.daemonEnv = "GOMEMLIMIT=192MiB,A=b" }, "", func(t *testing.T, p plan) {
			require.Equal(t, "revision HEAD~1", p.daemonName)
			require.Equal(t, []string{"GOMEMLIMIT=192MiB", "A=b"}, p.daemonEnv)
		}},
		{"no cost curve", func(o *options) { o.costMQs = "" }, "", func(t *testing.T, p plan) { require.Empty(t, p.costMQs) }},
		{"binary and revision", func(o *options) { o.daemonBin = "/x"; o.daemonRev = "HEAD" }, "not both", nil},
		{"unknown cost MQ", func(o *options) { o.costMQs = "rocksmq" }, `-cost-curve "rocksmq"`, nil},
		{"bad task counts", func(o *options) { o.costTasks = "1,x" }, `-cost-tasks "1,x"`, nil},
		{"zero load", func(o *options) { o.costLoad = 0 }, "-cost-load", nil},
		{"nothing to measure", func(o *options) { o.skipDrain = true; o.costMQs = "" }, "measures nothing", nil},
		{"bad bed mode", func(o *options) { o.bedMode = "maybe" }, `-bed "maybe"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			p, err := parsePlan(o)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, bench.ErrBadFlag)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, p)
		})
	}
}

func TestKeyShares(t *testing.T) {
	tests := []struct {
		name                 string
		rows, batch, writers int
		want                 [][2]int
	}{
		{"even", 100000, 5000, 2, [][2]int{{0, 50000}, {50000, 100000}}},
		{"whole batches, the last share short", 100000, 5000, 3, [][2]int{{0, 35000}, {35000, 70000}, {70000, 100000}}},
		{"a partial last batch", 250, 100, 2, [][2]int{{0, 200}, {200, 250}}},
		{"more writers than batches", 200, 100, 4, [][2]int{{0, 100}, {100, 200}}},
		{"one writer", 10, 3, 1, [][2]int{{0, 10}}},
		{"nothing", 0, 3, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, keyShares(tc.rows, tc.batch, tc.writers))
		})
	}
}
