// Package client is a typed Go client of the daemon's REST task API
// (/api/v1/tasks): create, list, get, pause, resume, delete, status,
// synced and verify. Each call returns the decoded value and the body exactly as the
// daemon sent it; a failed call returns an *APIError (the daemon answered
// with a problem), a *TimeoutError (no answer in the time allowed) or an
// *UnreachableError (no connection at all). The request
// and response types are package api's; the client depends on nothing else
// of the module (make lint checks it), so importing it stays cheap.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-cdc/milvus-cdc/api"
)

// DefaultServer is the daemon's default address (config address 0.0.0.0:8444).
const DefaultServer = "http://127.0.0.1:8444"

// maxResponseBytes bounds what the client reads of one answer.
const maxResponseBytes = 64 << 20

// Client calls one daemon.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the daemon at server, e.g. http://127.0.0.1:8444
// or 127.0.0.1:8444 (http is assumed). httpClient nil uses one with timeout
// as its overall request timeout (0: none).
func New(server string, httpClient *http.Client, timeout time.Duration) (*Client, error) {
	base, err := ParseServer(server)
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: timeout}
	}
	return &Client{base: base, http: httpClient}, nil
}

// ParseServer checks a daemon address and returns it as a base URL.
func ParseServer(server string) (*url.URL, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return nil, errors.New("the server address is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", server, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server address %q: scheme must be http or https", server)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("server address %q has no host", server)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server address %q: no query or fragment allowed", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// Server is the base URL the client calls.
func (c *Client) Server() string { return c.base.String() }

// APIError is a request the daemon refused: the HTTP status and the problem
// details it sent (Code is the stable catalog code, see docs/api.md).
type APIError struct {
	Method, Path string
	StatusCode   int
	Problem      api.Problem
	// Body is the raw answer, for answers that were not a problem document.
	Body []byte
}

func (e *APIError) Error() string {
	status := strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
	p := e.Problem
	if p.Title == "" && p.Detail == "" {
		text := strings.TrimSpace(string(e.Body))
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		if text == "" {
			return fmt.Sprintf("%s %s: HTTP %s", e.Method, e.Path, status)
		}
		return fmt.Sprintf("%s %s: HTTP %s: %s", e.Method, e.Path, status, text)
	}
	msg := fmt.Sprintf("HTTP %s: %s", status, p.Title)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	if p.Field != "" {
		msg += " (field " + p.Field + ")"
	}
	if p.Code != "" {
		msg += " [" + p.Code + "]"
	}
	return msg
}

// UnreachableError is a request that got no HTTP answer because no
// connection could be made or it broke (connection refused, DNS).
type UnreachableError struct {
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the milvus-cdc daemon at %s: %v", e.Server, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// TimeoutError is a request that got no (complete) answer before its
// deadline: the context's or the HTTP client's timeout. The daemon may be up
// and busy (a create waits for the target's connect timeout).
type TimeoutError struct {
	Server, Method, Path string
	Err                  error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s %s to the milvus-cdc daemon at %s timed out: %v", e.Method, e.Path, e.Server, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// noAnswer classifies a failed round trip: a timeout, or no connection.
func (c *Client) noAnswer(method, path string, err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &TimeoutError{Server: c.Server(), Method: method, Path: path, Err: unwrapURLError(err)}
	}
	return &UnreachableError{Server: c.Server(), Err: unwrapURLError(err)}
}

// CreateTask creates a task (POST /api/v1/tasks).
func (c *Client) CreateTask(ctx context.Context, req api.CreateTaskRequest) (api.Task, []byte, error) {
	var t api.Task
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/tasks", nil, req, &t)
	return t, raw, err
}

// ListTasks lists the tasks, oldest first; state filters by task state
// (empty: all).
func (c *Client) ListTasks(ctx context.Context, state string) (api.TaskList, []byte, error) {
	var l api.TaskList
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/tasks", q, nil, &l)
	return l, raw, err
}

// GetTask returns one task.
func (c *Client) GetTask(ctx context.Context, id string) (api.Task, []byte, error) {
	var t api.Task
	raw, err := c.call(ctx, http.MethodGet, taskPath(id, ""), nil, nil, &t)
	return t, raw, err
}

// Cluster returns the daemons sharing the task store (GET /api/v1/cluster).
func (c *Client) Cluster(ctx context.Context) (api.Cluster, []byte, error) {
	var out api.Cluster
	raw, err := c.call(ctx, http.MethodGet, "/api/v1/cluster", nil, nil, &out)
	return out, raw, err
}

// DrainMember makes a member hand its tasks over to the others and take
// none; it returns the cluster as that member sees it afterwards.
func (c *Client) DrainMember(ctx context.Context, id string) (api.Cluster, []byte, error) {
	return c.memberAction(ctx, id, "drain")
}

// UndrainMember lets a drained member take tasks again.
func (c *Client) UndrainMember(ctx context.Context, id string) (api.Cluster, []byte, error) {
	return c.memberAction(ctx, id, "undrain")
}

func (c *Client) memberAction(ctx context.Context, id, action string) (api.Cluster, []byte, error) {
	var out api.Cluster
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/cluster/members/"+url.PathEscape(id)+"/"+action, nil, nil, &out)
	return out, raw, err
}

// PauseTask pauses a task and returns it.
func (c *Client) PauseTask(ctx context.Context, id string) (api.Task, []byte, error) {
	var t api.Task
	raw, err := c.call(ctx, http.MethodPost, taskPath(id, "pause"), nil, nil, &t)
	return t, raw, err
}

// UpdateTask changes a Paused task (PATCH) and returns it.
func (c *Client) UpdateTask(ctx context.Context, id string, req api.UpdateTaskRequest) (api.Task, []byte, error) {
	var t api.Task
	raw, err := c.call(ctx, http.MethodPatch, taskPath(id, ""), nil, req, &t)
	return t, raw, err
}

// ResumeTask resumes a task and returns it.
func (c *Client) ResumeTask(ctx context.Context, id string) (api.Task, []byte, error) {
	var t api.Task
	raw, err := c.call(ctx, http.MethodPost, taskPath(id, "resume"), nil, nil, &t)
	return t, raw, err
}

// DeleteTask deletes a task; the daemon answers 204 without a body.
func (c *Client) DeleteTask(ctx context.Context, id string) error {
	_, err := c.call(ctx, http.MethodDelete, taskPath(id, ""), nil, nil, nil)
	return err
}

// TaskStatus returns a task's pipeline status.
func (c *Client) TaskStatus(ctx context.Context, id string) (api.TaskStatus, []byte, error) {
	var s api.TaskStatus
	raw, err := c.call(ctx, http.MethodGet, taskPath(id, "status"), nil, nil, &s)
	return s, raw, err
}

// TaskSynced asks whether the target holds everything the source had
// written; the daemon waits up to wait (whole seconds, 0–60) for it.
// A negative wait uses the daemon's default (5 s).
func (c *Client) TaskSynced(ctx context.Context, id string, wait time.Duration) (api.TaskSynced, []byte, error) {
	var s api.TaskSynced
	q := url.Values{}
	if wait >= 0 {
		q.Set("waitSeconds", strconv.Itoa(int(wait/time.Second)))
	}
	raw, err := c.call(ctx, http.MethodGet, taskPath(id, "synced"), q, nil, &s)
	return s, raw, err
}

// VerifyTask compares the task's target with its source once the task is
// synced (docs/api.md, "Verify"); the answer says whether they are equal.
func (c *Client) VerifyTask(ctx context.Context, id string, req api.VerifyRequest) (api.TaskVerify, []byte, error) {
	var v api.TaskVerify
	raw, err := c.call(ctx, http.MethodPost, taskPath(id, "verify"), nil, req, &v)
	return v, raw, err
}

// taskPath escapes the id so that an id with a slash or a dot-dot cannot
// address another route.
func taskPath(id, action string) string {
	p := "/api/v1/tasks/" + url.PathEscape(id)
	if action != "" {
		p += "/" + action
	}
	return p
}

// call sends one request and decodes a 2xx JSON answer into out (when not
// nil). It returns the raw body of every answer it read.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) ([]byte, error) {
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	u.Path = c.base.Path + pathUnescaped(path)
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode the %s %s request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("build the %s %s request: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.noAnswer(method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, c.noAnswer(method, path, fmt.Errorf("reading the answer: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode, Body: raw}
		_ = json.Unmarshal(raw, &apiErr.Problem) // not a problem document: Error shows the body
		return raw, apiErr
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("decode the answer to %s %s (is %s a milvus-cdc daemon?): %w", method, path, c.Server(), err)
		}
	}
	return raw, nil
}

// pathUnescaped is the decoded form of a path built with url.PathEscape.
func pathUnescaped(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		return p
	}
	return s
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the
// method and URL; the UnreachableError names the server already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
