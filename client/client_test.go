package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/client"
	"github.com/milvus-cdc/milvus-cdc/client/clienttest"
	"github.com/milvus-cdc/milvus-cdc/corelib"
)

// newTask is a create body; tasks of one test need different databases
// (overlapping scopes on one target are refused).
func newTask(id string) api.CreateTaskRequest {
	return api.CreateTaskRequest{
		ID:     id,
		Target: api.TargetRequest{URI: "http://target:19530", Token: "root:Milvus", ConnectTimeoutSeconds: 5},
		Scope:  []api.Scope{{Database: "db_" + id, Collection: "*"}},
	}
}

func TestClientRoundTripsEveryOperation(t *testing.T) {
	d := clienttest.Start(t)
	lag := 1.25
	applied := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d.Factory.SetStatus(corelib.Status{
		Replicating: true, Detail: "replicating", State: "running", LagSeconds: &lag,
		Channels:    []corelib.ChannelStatus{{Channel: "by-dev-rootcoord-dml_0", Kind: "data", AppliedTs: 42, AppliedTime: &applied, LagSeconds: &lag}},
		Collections: []corelib.CollectionStatus{{ID: 7, Database: "db1", Name: "c1", Inserted: 10, Deleted: 2, Upserted: 3, Operations: 4}},
	})
	d.Factory.SetSynced(corelib.SyncReport{Synced: true, SourceNowTs: 99, Channels: []corelib.ChannelSync{{Channel: "by-dev-rootcoord-dml_0", AppliedTs: 100, Synced: true}}})
	c, err := client.New(d.URL, nil, 10*time.Second)
	require.NoError(t, err)
	ctx := context.Background()

	created, raw, err := c.CreateTask(ctx, newTask("t1"))
	require.NoError(t, err)
	require.Equal(t, "t1", created.ID)
	require.Equal(t, "Running", created.State)
	require.True(t, created.Target.TokenSet)
	require.NotContains(t, string(raw), "root:Milvus", "the raw body is the daemon's, without the token")
	var rawTask map[string]any
	require.NoError(t, json.Unmarshal(raw, &rawTask))
	require.Equal(t, "t1", rawTask["id"])

	_, _, err = c.CreateTask(ctx, newTask("t2"))
	require.NoError(t, err)

	steps := []struct {
		name  string
		call  func() (any, error)
		check func(t *testing.T, v any)
	}{
		{"get", func() (any, error) { v, _, err := c.GetTask(ctx, "t1"); return v, err }, func(t *testing.T, v any) {
			tk := v.(api.Task)
			require.Equal(t, "t1", tk.ID)
			require.Equal(t, []api.Scope{{Database: "db_t1", Collection: "*"}}, tk.Scope)
			require.NotNil(t, tk.Pipeline)
			require.Equal(t, 1.25, *tk.Pipeline.LagSeconds)
		}},
		{"list", func() (any, error) { v, _, err := c.ListTasks(ctx, ""); return v, err }, func(t *testing.T, v any) {
			l := v.(api.TaskList)
			require.Len(t, l.Tasks, 2)
			require.Equal(t, "t1", l.Tasks[0].ID, "oldest first")
		}},
		{"status", func() (any, error) { v, _, err := c.TaskStatus(ctx, "t1"); return v, err }, func(t *testing.T, v any) {
			s := v.(api.TaskStatus)
			require.Equal(t, "Running", s.State)
			require.Equal(t, int64(10), s.Pipeline.Collections[0].Inserted)
			require.Equal(t, "by-dev-rootcoord-dml_0", s.Pipeline.Channels[0].Channel)
		}},
		{"synced", func() (any, error) { v, _, err := c.TaskSynced(ctx, "t1", 0); return v, err }, func(t *testing.T, v any) {
			s := v.(api.TaskSynced)
			require.True(t, s.Synced)
			require.Equal(t, uint64(99), s.SourceNowTs)
		}},
		{"pause", func() (any, error) { v, _, err := c.PauseTask(ctx, "t1"); return v, err }, func(t *testing.T, v any) {
			tk := v.(api.Task)
			require.Equal(t, "Paused", tk.State)
			require.Nil(t, tk.Pipeline, "no pipeline runs for a paused task")
		}},
		{"list paused", func() (any, error) { v, _, err := c.ListTasks(ctx, "Paused"); return v, err }, func(t *testing.T, v any) {
			l := v.(api.TaskList)
			require.Len(t, l.Tasks, 1)
			require.Equal(t, "t1", l.Tasks[0].ID)
		}},
		{"resume", func() (any, error) { v, _, err := c.ResumeTask(ctx, "t1"); return v, err }, func(t *testing.T, v any) {
			require.Equal(t, "Running", v.(api.Task).State)
		}},
		{"delete", func() (any, error) { return nil, c.DeleteTask(ctx, "t1") }, func(t *testing.T, _ any) {
			_, _, err := c.GetTask(ctx, "t1")
			var apiErr *client.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			v, err := s.call()
			require.NoError(t, err)
			s.check(t, v)
		})
	}
}

func TestClientErrorsCarryTheProblem(t *testing.T) {
	d := clienttest.Start(t)
	c, err := client.New(d.URL, nil, 10*time.Second)
	require.NoError(t, err)
	ctx := context.Background()
	_, _, err = c.CreateTask(ctx, newTask("dup"))
	require.NoError(t, err)

	noURI := newTask("x")
	noURI.Target.URI = ""
	cases := []struct {
		name       string
		call       func() error
		status     int
		code, text string
		field      string
	}{
		{"validation names the field", func() error { _, _, err := c.CreateTask(ctx, noURI); return err },
			422, "validation_failed", "HTTP 422 Unprocessable Entity: ", "target.uri"},
		{"unknown task", func() error { _, _, err := c.GetTask(ctx, "nope"); return err },
			404, "task_not_found", "HTTP 404 Not Found: ", ""},
		{"existing id", func() error { _, _, err := c.CreateTask(ctx, newTask("dup")); return err },
			409, "task_exists", "HTTP 409 Conflict: ", "id"},
		{"resume a running task", func() error { _, _, err := c.ResumeTask(ctx, "dup"); return err },
			409, "task_state_conflict", "HTTP 409 Conflict: ", ""},
		{"bad state filter", func() error { _, _, err := c.ListTasks(ctx, "Sleeping"); return err },
			400, "bad_request", "HTTP 400 Bad Request: ", "state"},
		{"delete unknown", func() error { return c.DeleteTask(ctx, "nope") },
			404, "task_not_found", "HTTP 404 Not Found: ", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var apiErr *client.APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.status, apiErr.StatusCode)
			require.Equal(t, tc.code, apiErr.Problem.Code)
			require.Equal(t, tc.field, apiErr.Problem.Field)
			require.NotEmpty(t, apiErr.Problem.Detail)
			require.Contains(t, err.Error(), tc.text+apiErr.Problem.Title+": "+apiErr.Problem.Detail)
			require.Contains(t, err.Error(), "["+tc.code+"]")
		})
	}
}

func TestClientReportsAnUnreachableDaemon(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	c, err := client.New(addr, nil, 5*time.Second)
	require.NoError(t, err)
	_, _, err = c.ListTasks(context.Background(), "")
	var unreachable *client.UnreachableError
	require.ErrorAs(t, err, &unreachable)
	require.Equal(t, "http://"+addr, unreachable.Server)
	require.Contains(t, err.Error(), "cannot reach the milvus-cdc daemon at http://"+addr)
	require.Contains(t, err.Error(), "connection refused")
	require.False(t, errors.As(err, new(*client.APIError)))
}

// A daemon that does not answer in time is a TimeoutError, whether the
// client's own timeout or the caller's deadline ran out.
func TestClientReportsATimeout(t *testing.T) {
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { close(release); _ = srv.Close() })

	tests := []struct {
		name    string
		timeout time.Duration
		ctx     func() (context.Context, context.CancelFunc)
	}{
		{"client timeout", 200 * time.Millisecond, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{"caller deadline", 0, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 200*time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.New(l.Addr().String(), nil, tt.timeout)
			require.NoError(t, err)
			ctx, cancel := tt.ctx()
			defer cancel()
			_, _, err = c.GetTask(ctx, "t1")
			var timedOut *client.TimeoutError
			require.ErrorAs(t, err, &timedOut)
			require.Equal(t, http.MethodGet, timedOut.Method)
			require.Equal(t, "/api/v1/tasks/t1", timedOut.Path)
			require.Contains(t, err.Error(), "GET /api/v1/tasks/t1 to the milvus-cdc daemon at http://"+l.Addr().String()+" timed out")
			require.False(t, errors.As(err, new(*client.UnreachableError)))
		})
	}
}

func TestClientRejectsAnAnswerThatIsNotTheAPI(t *testing.T) {
	srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>not a daemon</html>"))
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, err := client.New(l.Addr().String(), nil, 5*time.Second)
	require.NoError(t, err)
	_, raw, err := c.ListTasks(context.Background(), "")
	require.ErrorContains(t, err, "is http://"+l.Addr().String()+" a milvus-cdc daemon?")
	require.Equal(t, "<html>not a daemon</html>", string(raw))
}

func TestParseServer(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{"http://127.0.0.1:8444", "http://127.0.0.1:8444", ""},
		{"127.0.0.1:8444", "http://127.0.0.1:8444", ""},
		{" https://cdc.example:443/prefix/ ", "https://cdc.example:443/prefix", ""},
		{"", "", "the server address is empty"},
		{"ftp://x:1", "", "scheme must be http or https"},
		{"http://", "", "has no host"},
		{"http://x:1/?a=b", "", "no query or fragment"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			u, err := client.ParseServer(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, u.String())
		})
	}
}
