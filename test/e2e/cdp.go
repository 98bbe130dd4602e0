//go:build e2e

package e2e

// A minimal Chrome DevTools Protocol client: it starts Debian's headless
// Chromium with a debugging port, attaches to its page and evaluates
// JavaScript in it, so a test can type, click and read the status page as a
// person would (--dump-dom only reads).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// Browser is one headless Chromium with one page.
type Browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	ws      *websocket.Conn
	nextID  atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan cdpReply
	stderr  *strings.Builder
	profile string // the browser's user data directory
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

var devtoolsRe = regexp.MustCompile(`DevTools listening on (ws://[^\s]+)`)

// StartBrowser starts headless Chromium on about:blank and attaches to its
// page; it is stopped when the test ends.
func StartBrowser(t *testing.T, chromium string) *Browser {
	t.Helper()
	profile, err := os.MkdirTemp("", "milvus-cdc-chromium")
	require.NoError(t, err)
	cmd := exec.Command(chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=*", "--user-data-dir="+profile, "about:blank")
	// Its own process group: the browser's helpers (renderer, GPU, zygote)
	// end with it and stop writing to the profile before it is removed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	b := &Browser{t: t, cmd: cmd, profile: profile, pending: map[int64]chan cdpReply{}, stderr: &strings.Builder{}}
	t.Cleanup(b.close)

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			b.mu.Lock()
			if b.stderr.Len() < 20000 {
				b.stderr.WriteString(line + "\n")
			}
			b.mu.Unlock()
			if m := devtoolsRe.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var browserWS string
	select {
	case browserWS = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("chromium did not open its debugging port within 30 s:\n%s", b.stderrText())
	}
	host := strings.TrimPrefix(browserWS, "ws://")
	host = host[:strings.Index(host, "/")]
	pageWS := b.pageTarget(host)
	ws, _, err := websocket.DefaultDialer.Dial(pageWS, nil)
	require.NoError(t, err, "attach to the page")
	b.ws = ws
	go b.readLoop()
	b.Call("Page.enable", nil)
	b.Call("Runtime.enable", nil)
	return b
}

func (b *Browser) stderrText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stderr.String()
}

// pageTarget returns the debugger URL of the browser's page.
func (b *Browser) pageTarget(host string) string {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + host + "/json/list")
		if err == nil {
			var targets []struct {
				Type string `json:"type"`
				WS   string `json:"webSocketDebuggerUrl"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if json.Unmarshal(raw, &targets) == nil {
				for _, tg := range targets {
					if tg.Type == "page" && tg.WS != "" {
						return tg.WS
					}
				}
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("chromium shows no page target on %s", host)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *Browser) readLoop() {
	for {
		_, data, err := b.ws.ReadMessage()
		if err != nil {
			b.mu.Lock()
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		var msg struct {
			ID int64 `json:"id"`
			cdpReply
		}
		if json.Unmarshal(data, &msg) != nil || msg.ID == 0 {
			continue // an event
		}
		b.mu.Lock()
		ch := b.pending[msg.ID]
		delete(b.pending, msg.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- msg.cdpReply
		}
	}
}

// Call sends one CDP command and returns its result.
func (b *Browser) Call(method string, params any) json.RawMessage {
	b.t.Helper()
	id := b.nextID.Add(1)
	ch := make(chan cdpReply, 1)
	b.mu.Lock()
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	b.mu.Lock()
	err := b.ws.WriteJSON(msg)
	b.mu.Unlock()
	require.NoError(b.t, err, "CDP %s", method)
	select {
	case r, ok := <-ch:
		require.True(b.t, ok, "chromium closed the connection during %s:\n%s", method, b.stderrText())
		if r.Error != nil {
			b.t.Fatalf("CDP %s: %s", method, r.Error.Message)
		}
		return r.Result
	case <-time.After(30 * time.Second):
		b.t.Fatalf("CDP %s: no answer within 30 s", method)
		return nil
	}
}

// Navigate loads url in the page.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	b.Call("Page.navigate", map[string]any{"url": url})
}

// Eval evaluates a JavaScript expression in the page and decodes its value
// into out (nil: ignore it). An exception fails the test.
func (b *Browser) Eval(expr string, out any) {
	b.t.Helper()
	raw := b.Call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true})
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	require.NoError(b.t, json.Unmarshal(raw, &r))
	if r.Exception != nil {
		b.t.Fatalf("JavaScript %q threw: %s %s", expr, r.Exception.Text, r.Exception.Exception.Description)
	}
	if out != nil && len(r.Result.Value) > 0 {
		require.NoError(b.t, json.Unmarshal(r.Result.Value, out), "value of %q: %s", expr, r.Result.Value)
	}
}

// WaitFor evaluates expr (a JavaScript boolean) until it is true, failing
// after timeout with what describe (a JavaScript string expression) says.
func (b *Browser) WaitFor(what, expr, describe string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		var ok bool
		// The page may still be loading: an exception means "not yet".
		b.Eval("(function(){try{return Boolean("+expr+")}catch(e){return false}})()", &ok)
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			var state string
			b.Eval("(function(){try{return String("+describe+")}catch(e){return String(e)}})()", &state)
			b.t.Fatalf("waiting for %s: not within %s; page: %s", what, timeout, state)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Text returns the textContent of the first element matching a CSS
// selector, "" when none.
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	var s string
	b.Eval(fmt.Sprintf(`(function(){var e=document.querySelector(%q);return e?e.textContent:""})()`, selector), &s)
	return s
}

func (b *Browser) close() {
	if b.ws != nil {
		_ = b.ws.Close()
	}
	if b.cmd.Process != nil {
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) // the whole group
		_, _ = b.cmd.Process.Wait()
	}
	for i := 0; i < 20; i++ { // helpers may need a moment to go
		if os.RemoveAll(b.profile) == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
