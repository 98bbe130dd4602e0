package main

// The operator CLI: `milvus-cdc task <command>` calls a running daemon's REST
// API through package client; `milvus-cdc version` prints the build. No
// command (only flags) or `serve` starts the daemon; any other word is a
// usage error, so a typo never starts a daemon in the current directory.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/client"
	"github.com/milvus-cdc/milvus-cdc/internal/buildinfo"
	"github.com/milvus-cdc/milvus-cdc/server/rest"
)

// serverEnv names the environment variable holding the daemon's address.
const serverEnv = "MILVUS_CDC_SERVER"

// Exit codes of the CLI.
const (
	exitOK        = 0
	exitFailed    = 1 // the daemon refused the request or could not be reached
	exitUsage     = 2 // bad command line or task file
	exitNotSynced = 3 // task synced: the target does not hold everything yet
	exitNotEqual  = 4 // task verify: the target differs from the source
)

// verifyTimeout is the default --timeout of task verify: it reads every
// key of the task's collections on both sides.
const verifyTimeout = 30 * time.Minute

const topUsage = `Usage:
  milvus-cdc [--config FILE] [--check-config|--print-config]  run the daemon (also: milvus-cdc serve ...)
  milvus-cdc task <command> [flags]                          manage the tasks of a running daemon
  milvus-cdc cluster [flags]                                 the daemons sharing the task store, their tasks and lease health
  milvus-cdc cluster drain|undrain MEMBER [flags]            hand a member's tasks over / let it take tasks again
  milvus-cdc healthcheck [--config FILE]                     exit 0 when the daemon is ready (container health check)
  milvus-cdc version                                         print the version, commit and Go version (also --version)
  milvus-cdc help                                            print this summary

Task commands:
  create -f FILE       create a task from a YAML or JSON file (the REST create body; - reads stdin);
                       --initial-sync copies the rows the collections hold first
  list [--state S]     list tasks, or only those in state S (e.g. Running, Paused)
  get ID               show one task
  status ID [-w]       state, phase, lag, per-channel positions, per-collection counts, initial
                       sync progress; -w redraws every --interval until the initial sync is done
  synced ID [--wait D] whether the target holds every source write (exit 3 when not)
  verify ID [--full | --sample N]
                       compare the target with the source once synced: counts, every key,
                       the values of N rows per collection (default 1000) or of every row
                       with --full (exit 4 when they differ; default --timeout 30m)
  update ID -f FILE    change a Paused task: scope, nameMapping, target credentials (the REST PATCH body)
  update ID --add DB.COLL --remove DB.COLL   add or remove scope entries (repeatable)
  pause ID | resume ID | delete ID

Flags of every task command:
  --server URL   daemon address (default $MILVUS_CDC_SERVER, else ` + client.DefaultServer + `)
  -o FORMAT      table (default) or json (the REST body as the daemon sent it)
  --timeout D    give up after D (default 90s)
  --token-file F bearer token of a daemon with authentication (or --token T,
                 $MILVUS_CDC_TOKEN, $MILVUS_CDC_TOKEN_FILE)
  --cacert F     CA of an https daemon; --cert F --key F for mutual TLS
`

// cliIO is what a CLI run reads and writes.
type cliIO struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// dispatch picks the daemon or the CLI from the command line. When the CLI
// ran, handled is true and code is the process exit code; otherwise
// daemonArgs are the daemon's flags.
func dispatch(args []string, cio cliIO) (daemonArgs []string, code int, handled bool) {
	if len(args) == 0 {
		return args, 0, false
	}
	switch args[0] {
	case "task", "tasks":
		return nil, runTask(args[1:], cio), true
	case "cluster":
		return nil, runTask(append([]string{"cluster"}, args[1:]...), cio), true
	case "serve":
		return args[1:], 0, false
	case "healthcheck":
		return nil, runHealthcheck(args[1:], cio), true
	case "help":
		fmt.Fprint(cio.stdout, topUsage)
		return nil, exitOK, true
	case "version", "--version", "-version":
		if len(args) > 1 {
			fmt.Fprintf(cio.stderr, "milvus-cdc version: unexpected argument %q\n", args[1])
			return nil, exitUsage, true
		}
		fmt.Fprintln(cio.stdout, buildinfo.Get())
		return nil, exitOK, true
	}
	if strings.HasPrefix(args[0], "-") {
		return args, 0, false // the daemon's flags
	}
	fmt.Fprintf(cio.stderr, "milvus-cdc: unknown command %q%s\n\n%s", args[0], didYouMean(args[0]), topUsage)
	return nil, exitUsage, true
}

// commands are the words dispatch knows, for suggestions.
var commands = []string{"task", "cluster", "serve", "healthcheck", "help", "version"}

// didYouMean suggests the command a typo was probably meant to be.
func didYouMean(word string) string {
	for _, c := range commands {
		if len(word) == len(c) && sameLetters(word, c) || strings.HasPrefix(c, word) && len(word) >= 2 {
			return fmt.Sprintf(" (did you mean %q?)", c)
		}
	}
	return ""
}

// sameLetters reports whether a is a permutation of b (a swapped pair: taks).
func sameLetters(a, b string) bool {
	count := map[rune]int{}
	for _, r := range a {
		count[r]++
	}
	for _, r := range b {
		count[r]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

// daemonUsage is the daemon's -h text: the CLI's summary, then its flags.
func daemonUsage() {
	out := flag.CommandLine.Output()
	fmt.Fprint(out, topUsage+"\nDaemon flags:\n")
	flag.PrintDefaults()
}

// taskCommand is one `milvus-cdc task` subcommand.
type taskCommand struct {
	args  string // positional arguments, for usage
	nArgs int
	run   func(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error)
}

// taskOptions are the parsed flags of a task command.
type taskOptions struct {
	server, output, file, state string
	timeout, wait, interval     time.Duration
	initialSync, watch          bool
	full                        bool
	sample                      int
	add, remove                 stringList // update: scope entries to add and remove
	io                          cliIO
	conn                        connFlags // token and TLS (cli_conn.go)
}

var taskCommands = map[string]taskCommand{
	"create": {args: "-f FILE", nArgs: 0, run: cmdCreate},
	"list":   {args: "[--state S]", nArgs: 0, run: cmdList},
	"get":    {args: "ID", nArgs: 1, run: cmdGet},
	"status": {args: "ID", nArgs: 1, run: cmdStatus},
	"synced": {args: "ID [--wait 5s]", nArgs: 1, run: cmdSynced},
	"verify": {args: "ID [--full | --sample N]", nArgs: 1, run: cmdVerify},
	"update": {args: "ID -f FILE | --add DB.COLL --remove DB.COLL", nArgs: 1, run: cmdUpdate},
	"pause":  {args: "ID", nArgs: 1, run: cmdPause},
	"resume": {args: "ID", nArgs: 1, run: cmdResume},
	"delete": {args: "ID", nArgs: 1, run: cmdDelete},
	// also milvus-cdc cluster
	"cluster": {args: "[drain|undrain MEMBER]", nArgs: -1, run: cmdCluster},
}

func cmdCluster(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	var (
		cl  api.Cluster
		raw []byte
		err error
	)
	switch {
	case len(args) == 0:
		cl, raw, err = c.Cluster(ctx)
	case len(args) == 2 && args[0] == "drain":
		cl, raw, err = c.DrainMember(ctx, args[1])
	case len(args) == 2 && args[0] == "undrain":
		cl, raw, err = c.UndrainMember(ctx, args[1])
	default:
		return exitUsage, fmt.Errorf("expected no argument, or drain MEMBER, or undrain MEMBER; got %q", args)
	}
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderCluster(w, cl) })
}

// runTask runs one task command and returns the exit code.
func runTask(args []string, cio cliIO) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(cio.stderr, topUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	name := args[0]
	cmd, ok := taskCommands[name]
	if !ok {
		fmt.Fprintf(cio.stderr, "milvus-cdc task: unknown command %q\n\n%s", name, topUsage)
		return exitUsage
	}
	o := &taskOptions{io: cio}
	fs := flag.NewFlagSet("milvus-cdc task "+name, flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	fs.Usage = func() {
		fmt.Fprintf(cio.stderr, "Usage: milvus-cdc task %s %s [flags]\n", name, cmd.args)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.server, "server", "", "daemon address (default $"+serverEnv+", else "+client.DefaultServer+")")
	fs.StringVar(&o.output, "o", "table", "output format: table or json")
	fs.StringVar(&o.output, "output", "table", "output format: table or json")
	fs.DurationVar(&o.timeout, "timeout", 90*time.Second, "give up after this long")
	o.conn.register(fs)
	switch name {
	case "create":
		fs.StringVar(&o.file, "f", "", "task file, YAML or JSON (the REST create body); - reads stdin")
		fs.StringVar(&o.file, "file", "", "same as -f")
		fs.BoolVar(&o.initialSync, "initial-sync", false, "copy the rows the in-scope collections hold before following their changes (initialSync; not in writer mode replicate)")
	case "status":
		fs.BoolVar(&o.watch, "w", false, "watch: redraw every --interval until the initial sync is done (or the task stops)")
		fs.BoolVar(&o.watch, "watch", false, "same as -w")
		fs.DurationVar(&o.interval, "interval", 2*time.Second, "how often -w redraws")
	case "update":
		fs.StringVar(&o.file, "f", "", "update file, YAML or JSON (the REST PATCH body: scope, nameMapping, target); - reads stdin")
		fs.StringVar(&o.file, "file", "", "same as -f")
		fs.Var(&o.add, "add", "add DB.COLLECTION to the scope (repeatable)")
		fs.Var(&o.remove, "remove", "remove DB.COLLECTION from the scope (repeatable)")
	case "list":
		fs.StringVar(&o.state, "state", "", "only tasks in this state, as the API names it (e.g. Running, Paused; the daemon lists the valid ones when refused)")
	case "synced":
		fs.DurationVar(&o.wait, "wait", 5*time.Second, "how long the daemon may wait for the target to catch up (0-60s)")
	case "verify":
		fs.BoolVar(&o.full, "full", false, "compare the values of every row, not of a sample")
		fs.IntVar(&o.sample, "sample", 0, "rows per collection whose values are compared (1-100000; default 1000)")
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage // the flag package printed the error and the usage
	}
	if name == "verify" {
		timeoutSet := false
		fs.Visit(func(f *flag.Flag) { timeoutSet = timeoutSet || f.Name == "timeout" })
		if !timeoutSet {
			o.timeout = verifyTimeout
		}
	}
	if o.output != "table" && o.output != "json" {
		fmt.Fprintf(cio.stderr, "milvus-cdc task %s: -o %q: use table or json\n", name, o.output)
		return exitUsage
	}
	if cmd.nArgs >= 0 && len(pos) != cmd.nArgs {
		msg := fmt.Sprintf("expected %s, got %d argument(s)", cmd.args, len(pos))
		fmt.Fprintf(cio.stderr, "milvus-cdc task %s: %s\n", name, msg)
		fs.Usage()
		o.printErrorJSON(errors.New(msg), msg)
		return exitUsage
	}
	server, from := resolveServer(o.server, cio.getenv)
	hc, err := o.conn.httpClient(cio.getenv, o.timeout)
	if err != nil {
		fmt.Fprintf(cio.stderr, "milvus-cdc task %s: %v\n", name, err)
		return exitUsage
	}
	c, err := client.New(server, hc, o.timeout)
	if err != nil {
		msg := fmt.Sprintf("%v (from %s)", err, from)
		fmt.Fprintf(cio.stderr, "milvus-cdc task %s: %s\n", name, msg)
		o.printErrorJSON(err, msg)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	if o.watch {
		// A watch runs until done or interrupted; each request keeps its
		// own --timeout (the client's).
		cancel()
		ctx, cancel = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	}
	defer cancel()
	code, err := cmd.run(ctx, c, o, pos)
	if err != nil {
		msg := describeError(err, from, o.timeout)
		fmt.Fprintf(cio.stderr, "milvus-cdc task %s: %s\n", name, msg)
		o.printErrorJSON(err, msg)
		if code == exitOK {
			code = exitFailed
		}
	}
	return code
}

// printErrorJSON keeps -o json scripts fed with JSON on stdout when a
// command fails: the daemon's problem body as it sent it, or, when there is
// none (no answer, a bad task file), a problem document of the CLI's own
// with code unreachable, timeout or invalid_input.
func (o *taskOptions) printErrorJSON(err error, msg string) {
	if o.output != "json" {
		return
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && json.Valid(apiErr.Body) {
		_ = o.print(apiErr.Body, nil)
		return
	}
	p := api.Problem{Type: "urn:milvus-cdc:cli:invalid_input", Title: "The command line or the task file is invalid", Code: "invalid_input", Detail: msg}
	var timeout *client.TimeoutError
	var unreachable *client.UnreachableError
	switch {
	case errors.As(err, &timeout):
		p.Type, p.Title, p.Code = "urn:milvus-cdc:cli:timeout", "The daemon did not answer in time", "timeout"
	case errors.As(err, &unreachable):
		p.Type, p.Title, p.Code = "urn:milvus-cdc:cli:unreachable", "The daemon cannot be reached", "unreachable"
	case apiErr != nil:
		p.Type, p.Title, p.Code, p.Status = "urn:milvus-cdc:cli:bad_answer", "The daemon's answer is not a problem document", "bad_answer", apiErr.StatusCode
	}
	raw, _ := json.Marshal(p) // plain strings: cannot fail
	_ = o.print(append(raw, '\n'), nil)
}

// parseInterspersed parses flags wherever they are among the positional
// arguments (`get ID -o json` as well as `get -o json ID`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// resolveServer returns the daemon address and where it came from.
func resolveServer(flagValue string, getenv func(string) string) (string, string) {
	if flagValue != "" {
		return flagValue, "--server"
	}
	if v := getenv(serverEnv); v != "" {
		return v, serverEnv
	}
	return client.DefaultServer, "the default"
}

// describeError turns a client error into one operator-facing line. A
// timeout is said as such: the daemon answered nothing in time, which is
// not the same as a daemon that is not there.
func describeError(err error, from string, timeout time.Duration) string {
	var timedOut *client.TimeoutError
	if errors.As(err, &timedOut) {
		return fmt.Sprintf("the request timed out after %s: %s %s got no answer from the daemon at %s (address from %s); it may be busy, e.g. a create waits for the target's connect timeout: raise --timeout", timeout, timedOut.Method, timedOut.Path, timedOut.Server, from)
	}
	var unreachable *client.UnreachableError
	if errors.As(err, &unreachable) {
		hint := "is the daemon running there? Set its address with --server or " + serverEnv
		return fmt.Sprintf("%v (address from %s; %s)", err, from, hint)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("the request timed out after %s: %v (raise --timeout)", timeout, err)
	}
	return err.Error() + authHint(err)
}

func cmdCreate(ctx context.Context, c *client.Client, o *taskOptions, _ []string) (int, error) {
	if o.file == "" {
		return exitUsage, errors.New("-f FILE is required: a YAML or JSON file with the REST create body (see docs/cli.md)")
	}
	req, err := readTaskFile(o.file, o.io.stdin)
	if err != nil {
		return exitUsage, err
	}
	if o.initialSync {
		req.InitialSync = true
	}
	t, raw, err := c.CreateTask(ctx, req)
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderTaskTable(w, []api.Task{t}) })
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdUpdate(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	var req api.UpdateTaskRequest
	if o.file == "" && len(o.add) == 0 && len(o.remove) == 0 {
		return exitUsage, errors.New("give -f FILE (the REST PATCH body: scope, nameMapping, target) or --add/--remove DB.COLLECTION (see docs/cli.md)")
	}
	if o.file != "" {
		if err := readRequestFile(o.file, o.io.stdin, &req); err != nil {
			return exitUsage, err
		}
	}
	if len(o.add) > 0 || len(o.remove) > 0 {
		if req.Scope != nil {
			return exitUsage, errors.New("the file gives scope; do not combine it with --add or --remove")
		}
		cur, _, err := c.GetTask(ctx, args[0])
		if err != nil {
			return exitFailed, err
		}
		scope, err := editScope(cur.Scope, o.add, o.remove)
		if err != nil {
			return exitUsage, err
		}
		req.Scope = scope
	}
	t, raw, err := c.UpdateTask(ctx, args[0], req)
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderTask(w, t) })
}

// editScope adds and removes "db.collection" entries of a scope.
func editScope(scope []api.Scope, add, remove []string) ([]api.Scope, error) {
	out := append([]api.Scope{}, scope...)
	for _, name := range remove {
		db, coll, ok := strings.Cut(name, ".")
		if !ok || db == "" || coll == "" {
			return nil, fmt.Errorf("--remove %q: use DB.COLLECTION", name)
		}
		i := slices.IndexFunc(out, func(s api.Scope) bool { return s.Database == db && s.Collection == coll })
		if i < 0 {
			return nil, fmt.Errorf("--remove %q: the task's scope has no such entry", name)
		}
		out = slices.Delete(out, i, i+1)
	}
	for _, name := range add {
		db, coll, ok := strings.Cut(name, ".")
		if !ok || db == "" || coll == "" {
			return nil, fmt.Errorf("--add %q: use DB.COLLECTION (e.g. default.orders)", name)
		}
		out = append(out, api.Scope{Database: db, Collection: coll})
	}
	return out, nil
}

func cmdList(ctx context.Context, c *client.Client, o *taskOptions, _ []string) (int, error) {
	l, raw, err := c.ListTasks(ctx, o.state)
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderList(w, l) })
}

func cmdGet(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	t, raw, err := c.GetTask(ctx, args[0])
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderTask(w, t) })
}

func cmdStatus(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	if o.watch {
		return watchStatus(ctx, c, o, args[0])
	}
	s, raw, err := c.TaskStatus(ctx, args[0])
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderStatus(w, s, time.Now()) })
}

// clearScreen moves the cursor home and clears a terminal, so that each
// table of a watch replaces the last.
const clearScreen = "\x1b[H\x1b[2J"

// watchStatus shows the status every interval until the task's initial sync
// is done (its pipeline follows the channels) or no pipeline runs; with -o
// json one body per line.
func watchStatus(ctx context.Context, c *client.Client, o *taskOptions, id string) (int, error) {
	if o.interval < 100*time.Millisecond {
		return exitUsage, fmt.Errorf("--interval %s: use at least 100ms", o.interval)
	}
	for {
		s, raw, err := c.TaskStatus(ctx, id)
		if err != nil {
			return exitFailed, err
		}
		if o.output == "table" {
			fmt.Fprint(o.io.stdout, clearScreen)
		}
		if err := o.print(raw, func(w io.Writer) error { return renderStatus(w, s, time.Now()) }); err != nil {
			return exitFailed, err
		}
		if watchDone(s) {
			return exitOK, nil
		}
		select {
		case <-ctx.Done():
			return exitOK, nil
		case <-time.After(o.interval):
		}
	}
}

// watchDone: nothing more to wait for, the initial sync (if any) is over.
func watchDone(s api.TaskStatus) bool {
	p := s.Pipeline
	if p == nil || p.State == "failed" || p.State == "stopped" {
		return true
	}
	if p.Snapshot != nil && !p.Snapshot.Done {
		return false
	}
	return p.Phase == "following"
}

func cmdSynced(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	if o.wait < 0 || o.wait > 60*time.Second {
		return exitUsage, fmt.Errorf("--wait %s: use 0s to 60s", o.wait)
	}
	s, raw, err := c.TaskSynced(ctx, args[0], o.wait)
	if err != nil {
		return exitFailed, err
	}
	if err := o.print(raw, func(w io.Writer) error { return renderSynced(w, s) }); err != nil {
		return exitFailed, err
	}
	if !s.Synced {
		return exitNotSynced, nil
	}
	return exitOK, nil
}

func cmdVerify(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	req := api.VerifyRequest{Mode: "sample", Sample: o.sample}
	switch {
	case o.full && o.sample != 0:
		return exitUsage, errors.New("--full compares every row: give --full or --sample, not both")
	case o.full:
		req.Mode = "full"
	case o.sample < 0:
		return exitUsage, fmt.Errorf("--sample %d: use 1 to 100000 rows", o.sample)
	}
	v, raw, err := c.VerifyTask(ctx, args[0], req)
	if err != nil {
		return exitFailed, err
	}
	if err := o.print(raw, func(w io.Writer) error { return renderVerify(w, v) }); err != nil {
		return exitFailed, err
	}
	if !v.Equal {
		return exitNotEqual, nil
	}
	return exitOK, nil
}

func cmdPause(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	t, raw, err := c.PauseTask(ctx, args[0])
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderTaskTable(w, []api.Task{t}) })
}

func cmdResume(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	t, raw, err := c.ResumeTask(ctx, args[0])
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(raw, func(w io.Writer) error { return renderTaskTable(w, []api.Task{t}) })
}

func cmdDelete(ctx context.Context, c *client.Client, o *taskOptions, args []string) (int, error) {
	if err := c.DeleteTask(ctx, args[0]); err != nil {
		return exitFailed, err
	}
	// The daemon answers 204 without a body; json output still says what happened.
	raw, err := json.Marshal(map[string]any{"id": args[0], "deleted": true})
	if err != nil {
		return exitFailed, err
	}
	return exitOK, o.print(append(raw, '\n'), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "task %s deleted\n", args[0])
		return err
	})
}

// print writes the daemon's body as is (-o json) or the table.
func (o *taskOptions) print(raw []byte, table func(io.Writer) error) error {
	if o.output == "json" {
		if len(raw) > 0 && raw[len(raw)-1] != '\n' {
			raw = append(raw, '\n')
		}
		_, err := o.io.stdout.Write(raw)
		return err
	}
	return table(o.io.stdout)
}

// readTaskFile reads a create body from a YAML or JSON file ("-": stdin),
// refusing unknown fields with the field's name.
func readTaskFile(path string, stdin io.Reader) (api.CreateTaskRequest, error) {
	var req api.CreateTaskRequest
	return req, readRequestFile(path, stdin, &req)
}

// readRequestFile decodes a YAML or JSON request body file strictly into req.
func readRequestFile(path string, stdin io.Reader, req any) error {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("read the task file: %w", err)
	}
	body, err := taskFileJSON(data)
	if err != nil {
		return fmt.Errorf("task file %s: %w", path, err)
	}
	if err := rest.DecodeStrict(bytes.NewReader(body), req); err != nil {
		return fmt.Errorf("task file %s: %w", path, err)
	}
	return nil
}

// taskFileJSON returns the file as JSON: as is when it is a JSON object,
// converted when it is YAML.
func taskFileJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("the file is empty; it needs the REST create body (target, scope, ...)")
	}
	if trimmed[0] == '{' {
		return trimmed, nil
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML or JSON: %w", err)
	}
	doc, err := jsonCompatible(doc, "")
	if err != nil {
		return nil, err
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, errors.New("the file must hold one mapping (the REST create body), not a list or a scalar")
	}
	return json.Marshal(doc)
}

// jsonCompatible turns YAML's generic values into JSON-encodable ones
// (mappings with non-string keys are refused, naming where).
func jsonCompatible(v any, at string) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			c, err := jsonCompatible(e, join(at, k))
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: key %v is not a string", orRoot(at), k)
			}
			c, err := jsonCompatible(e, join(at, ks))
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range x {
			c, err := jsonCompatible(e, fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case time.Time:
		// An unquoted YAML date; the API has no time fields in a create body.
		return x.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func orRoot(at string) string {
	if at == "" {
		return "the top level"
	}
	return strings.TrimPrefix(at, ".")
}
