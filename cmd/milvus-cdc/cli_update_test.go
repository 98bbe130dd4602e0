package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
)

func TestCLITaskUpdate(t *testing.T) {
	d := clienttest.Start(t)
	env := map[string]string{serverEnv: d.URL}
	require.Equal(t, 0, runCLI(t, env, "", "task", "create", "-f", writeFile(t, "task.json",
		`{"id":"t1","target":{"uri":"http://target:19530"},"scope":[{"database":"db1","collection":"a"},{"database":"db1","collection":"b"}]}`)).code)

	steps := []struct {
		name      string
		stdin     string
		args      []string
		code      int
		wantScope []string
		stderr    string
	}{
		{name: "a running task is refused", args: []string{"task", "update", "t1", "--add", "db1.c"}, code: exitFailed, stderr: "only a Paused task can be updated"},
		{name: "nothing to change", args: []string{"task", "update", "t1"}, code: exitUsage, stderr: "give -f FILE"},
		{name: "pause", args: []string{"task", "pause", "t1"}},
		{name: "add and remove", args: []string{"task", "update", "t1", "--add", "db1.c", "--remove", "db1.a", "-o", "json"}, wantScope: []string{"db1.b", "db1.c"}},
		{name: "remove what is not there", args: []string{"task", "update", "t1", "--remove", "db1.zzz"}, code: exitUsage, stderr: "no such entry"},
		{name: "add a bad name", args: []string{"task", "update", "t1", "--add", "nodot"}, code: exitUsage, stderr: "use DB.COLLECTION"},
		{name: "a YAML patch file on stdin", stdin: "scope:\n  - {database: db1, collection: b}\n", args: []string{"task", "update", "t1", "-f", "-", "-o", "json"}, wantScope: []string{"db1.b"}},
		{name: "a patch the daemon refuses", stdin: `{"scope":[{"database":"","collection":"b"}]}`, args: []string{"task", "update", "t1", "-f", "-"}, code: exitFailed, stderr: "scope[0].database"},
		{name: "an unknown field in the file", stdin: `{"uri":"x"}`, args: []string{"task", "update", "t1", "-f", "-"}, code: exitUsage, stderr: `unknown field "uri"`},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := runCLI(t, env, s.stdin, s.args...)
			require.Equal(t, s.code, r.code, "stdout: %s\nstderr: %s", r.stdout, r.stderr)
			require.Contains(t, r.stderr, s.stderr)
			if s.wantScope != nil {
				var tk api.Task
				require.NoError(t, json.Unmarshal([]byte(r.stdout), &tk))
				var got []string
				for _, sc := range tk.Scope {
					got = append(got, sc.Database+"."+sc.Collection)
				}
				require.Equal(t, s.wantScope, got)
				require.Equal(t, "Paused", tk.State)
			}
		})
	}
}

func TestEditScope(t *testing.T) {
	scope := []api.Scope{{Database: "db1", Collection: "a"}, {Database: "db2", Collection: "*"}}
	tests := []struct {
		name        string
		add, remove []string
		want        []api.Scope
		err         string
	}{
		{name: "add", add: []string{"db1.b"}, want: append(append([]api.Scope{}, scope...), api.Scope{Database: "db1", Collection: "b"})},
		{name: "remove", remove: []string{"db2.*"}, want: scope[:1]},
		{name: "both", add: []string{"db3.c"}, remove: []string{"db1.a"}, want: []api.Scope{{Database: "db2", Collection: "*"}, {Database: "db3", Collection: "c"}}},
		{name: "remove missing", remove: []string{"db1.x"}, err: "no such entry"},
		{name: "bad add", add: []string{".x"}, err: "use DB.COLLECTION"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := editScope(scope, tc.add, tc.remove)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Len(t, scope, 2, "the input is not changed")
		})
	}
}
