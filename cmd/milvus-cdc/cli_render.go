package main

// Human-readable tables of the CLI (text/tabwriter). Values the daemon may
// add later (new states, new fields) are shown as they come, never mapped
// through a fixed list.

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/milvus-cdc/milvus-cdc/api"
)

// none is what a table shows for an absent value.
const none = "-"

// maxReasonInList keeps the list table one line per task.
const maxReasonInList = 60

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// row writes tab-separated cells; tabs and newlines inside a value would
// break the table, so they become spaces.
func row(tw *tabwriter.Writer, cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
		if cells[i] == "" {
			cells[i] = none
		}
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

// renderList is the list view, then, when the daemon answered from memory,
// a line saying so.
func renderList(w io.Writer, l api.TaskList) error {
	if err := renderTaskTable(w, l.Tasks); err != nil {
		return err
	}
	if l.Store != nil {
		_, err := fmt.Fprintf(w, "\nTask store: %s\n", formatStore(l.Store))
		return err
	}
	return nil
}

// formatStore says that the task store does not answer and how old the
// records shown are.
func formatStore(s *api.StoreStatus) string {
	return fmt.Sprintf("not answering since %s (%s); tasks as the daemon knew them at %s, pipeline figures live", formatTime(s.Since), s.Error, formatTime(s.AsOf))
}

// renderTaskTable is the list view: one line per task.
func renderTaskTable(w io.Writer, tasks []api.Task) error {
	if len(tasks) == 0 {
		_, err := fmt.Fprintln(w, "no tasks")
		return err
	}
	tw := newTable(w)
	row(tw, "ID", "STATE", "PIPELINE", "LAG", "ROWS", "TARGET", "SCOPE", "REASON")
	for _, t := range tasks {
		pipelineState, lag, rows := none, none, none
		if p := t.Pipeline; p != nil {
			pipelineState = p.State
			lag = formatLag(p.LagSeconds)
			rows = strconv.FormatInt(rowsApplied(p), 10)
		}
		row(tw, t.ID, t.State, pipelineState, lag, rows, targetText(t.Target), formatScope(t.Scope), clip(reasonOf(t.Reason, t.Pipeline), maxReasonInList))
	}
	return tw.Flush()
}

// targetText is the target in one word: the Milvus URI, or kafka://
// brokers/topic (or the topic template) for a Kafka target.
func targetText(t api.TargetView) string {
	if k := t.Kafka; k != nil {
		topic := k.Topic
		if topic == "" {
			topic = k.TopicTemplate
		}
		return "kafka://" + strings.Join(k.Brokers, ",") + "/" + topic
	}
	return t.URI
}

// renderTask is the get view: every field of one task.
func renderTask(w io.Writer, t api.Task) error {
	tw := newTable(w)
	row(tw, "ID:", t.ID)
	row(tw, "State:", t.State)
	row(tw, "Reason:", reasonOf(t.Reason, t.Pipeline))
	row(tw, "Target:", fmt.Sprintf("%s (token set: %s)", targetText(t.Target), yesNo(t.Target.TokenSet)))
	row(tw, "Writer mode:", t.WriterMode)
	row(tw, "Initial sync:", yesNo(t.InitialSync))
	row(tw, "Scope:", formatScope(t.Scope))
	if len(t.Exclude) > 0 {
		row(tw, "Excluded:", strings.Join(t.Exclude, ", "))
	}
	if len(t.NameMapping) > 0 {
		row(tw, "Name mapping:", formatNameMapping(t.NameMapping))
	}
	row(tw, "Replicate channel:", t.ReplicateChannel)
	row(tw, "Users and roles:", yesNo(t.EnableUserRole))
	row(tw, "Auto start:", yesNo(!t.DisableAutoStart))
	row(tw, "Created:", formatTime(t.CreatedAt))
	row(tw, "Updated:", formatTime(t.UpdatedAt))
	if t.Store != nil {
		row(tw, "Task store:", formatStore(t.Store))
	}
	if p := t.Pipeline; p != nil {
		row(tw, "Pipeline:", pipelineSummary(p))
		row(tw, "Lag:", formatLag(p.LagSeconds))
		row(tw, "Rows applied:", strconv.FormatInt(rowsApplied(p), 10))
		row(tw, "Last error:", formatError(p))
	} else {
		row(tw, "Pipeline:", "not running")
	}
	return tw.Flush()
}

// renderStatus is the status view: the task's state and lag, then one line
// per source channel and one per collection.
func renderStatus(w io.Writer, s api.TaskStatus, now time.Time) error {
	tw := newTable(w)
	row(tw, "ID:", s.ID)
	row(tw, "State:", s.State)
	row(tw, "Reason:", s.Reason)
	if s.Store != nil {
		row(tw, "Task store:", formatStore(s.Store))
	}
	p := s.Pipeline
	if p == nil {
		row(tw, "Pipeline:", "not running")
		return tw.Flush()
	}
	row(tw, "Pipeline:", pipelineSummary(p))
	row(tw, "Phase:", p.Phase)
	row(tw, "Detail:", p.Detail)
	row(tw, "Lag:", formatLag(p.LagSeconds))
	row(tw, "Retries:", strconv.FormatInt(p.Retries, 10))
	row(tw, "Last error:", formatError(p))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "CHANNEL", "KIND", "CHECKPOINT", "APPLIED", "LATEST READ", "CAUGHT UP", "LAG")
	for _, c := range p.Channels {
		row(tw, c.Channel, c.Kind, formatAge(c.CheckpointTime, now), formatAge(c.AppliedTime, now), formatAge(c.LatestTime, now), yesNo(c.CaughtUp), formatLag(c.LagSeconds))
	}
	if len(p.Channels) == 0 {
		row(tw, "(none yet)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "DATABASE", "COLLECTION", "ID", "INSERTED", "DELETED", "UPSERTED", "OPERATIONS")
	for _, c := range p.Collections {
		row(tw, c.Database, c.Name, strconv.FormatInt(c.ID, 10), strconv.FormatInt(c.Inserted, 10), strconv.FormatInt(c.Deleted, 10), strconv.FormatInt(c.Upserted, 10), strconv.FormatInt(c.Operations, 10))
	}
	if len(p.Collections) == 0 {
		row(tw, "(none yet)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return renderSnapshot(w, p.Snapshot)
}

// renderSnapshot is the initial sync's progress: one line per collection
// with rows copied of the total, the rate and the time left.
func renderSnapshot(w io.Writer, sn *api.SnapshotStatus) error {
	if sn == nil {
		return nil
	}
	state := fmt.Sprintf("copying, %d collection(s) to go", sn.Remaining)
	if sn.Done {
		state = "done"
	}
	fmt.Fprintf(w, "\nInitial sync: %s\n", state)
	tw := newTable(w)
	row(tw, "DATABASE", "COLLECTION", "STATE", "COPIED", "TOTAL", "PROGRESS", "RATE", "ETA", "REASON")
	for _, c := range sn.Collections {
		progress, rate, eta := none, none, none
		if c.Total > 0 {
			progress = strconv.FormatFloat(100*float64(c.Copied)/float64(c.Total), 'f', 1, 64) + "%"
		}
		if c.RowsPerSecond > 0 {
			rate = strconv.FormatFloat(c.RowsPerSecond, 'f', 0, 64) + " rows/s"
		}
		if c.ETASeconds != nil {
			eta = (time.Duration(*c.ETASeconds * float64(time.Second))).Round(time.Second).String()
		}
		row(tw, c.Database, c.Name, c.State, strconv.FormatInt(c.Copied, 10), strconv.FormatInt(c.Total, 10), progress, rate, eta, c.Reason)
	}
	return tw.Flush()
}

// renderSynced is the synced view: the answer, the source clock it was
// compared with, and each data channel.
func renderSynced(w io.Writer, s api.TaskSynced) error {
	tw := newTable(w)
	row(tw, "ID:", s.ID)
	row(tw, "State:", s.State)
	row(tw, "Synced:", strconv.FormatBool(s.Synced))
	if s.SourceNowTs != 0 { // 0: not compared (no pipeline runs)
		row(tw, "Source now:", fmt.Sprintf("%s (ts %d)", formatTime(s.SourceNow), s.SourceNowTs))
	}
	if s.Reason != "" {
		row(tw, "Reason:", s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Channels) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "CHANNEL", "APPLIED", "SYNCED")
	for _, c := range s.Channels {
		applied := strconv.FormatUint(c.AppliedTs, 10)
		if c.AppliedTime != nil {
			applied = formatTime(*c.AppliedTime) + " (ts " + applied + ")"
		}
		row(tw, c.Channel, applied, strconv.FormatBool(c.Synced))
	}
	return tw.Flush()
}

// renderVerify is the verify view: the answer, then one line per collection
// and the first keys that differ.
func renderVerify(w io.Writer, v api.TaskVerify) error {
	tw := newTable(w)
	row(tw, "ID:", v.ID)
	mode := v.Mode
	if v.Mode == "sample" {
		mode = fmt.Sprintf("sample (%d rows per collection)", v.Sample)
	}
	row(tw, "Mode:", mode)
	row(tw, "Equal:", strconv.FormatBool(v.Equal))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = newTable(w)
	row(tw, "COLLECTION", "TARGET", "RESULT", "SOURCE ROWS", "TARGET ROWS", "COMPARED", "MISSING", "EXTRA", "DIFFERING")
	for _, c := range v.Collections {
		row(tw, c.Database+"."+c.Name, c.TargetDatabase+"."+c.TargetName, c.Result,
			strconv.FormatInt(c.SourceRows, 10), strconv.FormatInt(c.TargetRows, 10), strconv.FormatInt(c.RowsCompared, 10),
			strconv.FormatInt(c.Missing, 10), strconv.FormatInt(c.Extra, 10), strconv.FormatInt(c.Differing, 10))
	}
	if len(v.Collections) == 0 {
		row(tw, "(no collection in scope)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range v.Collections {
		if c.Result == "equal" {
			continue
		}
		fmt.Fprintf(w, "\n%s.%s:\n", c.Database, c.Name)
		if c.Reason != "" {
			fmt.Fprintf(w, "  reason: %s\n", c.Reason)
		}
		for _, p := range c.Partitions {
			if p.SourceRows != p.TargetRows {
				fmt.Fprintf(w, "  partition %s: %d rows on the source, %d on the target\n", p.Name, p.SourceRows, p.TargetRows)
			}
		}
		if len(c.MissingKeys) > 0 {
			fmt.Fprintf(w, "  missing on the target: %s\n", strings.Join(c.MissingKeys, " "))
		}
		if len(c.ExtraKeys) > 0 {
			fmt.Fprintf(w, "  extra on the target: %s\n", strings.Join(c.ExtraKeys, " "))
		}
		for _, d := range c.DifferingFields {
			fmt.Fprintf(w, "  differing values: %s\n", d)
		}
	}
	return nil
}

func rowsApplied(p *api.PipelineStatus) int64 {
	var n int64
	for _, c := range p.Collections {
		n += c.Inserted + c.Deleted + c.Upserted
	}
	return n
}

// pipelineSummary is the pipeline's one state: a pipeline that retries,
// failed or stopped is that, whatever its replicating flag says (data does
// not flow while work is retried); a running one is replicating or not yet.
func pipelineSummary(p *api.PipelineStatus) string {
	switch p.State {
	case "", "running":
		if p.Replicating {
			return "replicating"
		}
		return "not replicating yet"
	}
	return p.State
}

// reasonOf is the task's reason, or while it has none the pipeline's detail.
func reasonOf(reason string, p *api.PipelineStatus) string {
	if reason != "" || p == nil {
		return reason
	}
	return p.Detail
}

func formatError(p *api.PipelineStatus) string {
	if e := p.Error; e != nil {
		return fmt.Sprintf("%s [%s] %s", formatTime(e.Time), e.Stage, e.Message)
	}
	return p.LastError
}

func formatScope(scope []api.Scope) string {
	parts := make([]string, 0, len(scope))
	for _, s := range scope {
		parts = append(parts, s.Database+"."+s.Collection)
	}
	return strings.Join(parts, ",")
}

func formatNameMapping(ms []api.NameMapping) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		s := m.SourceDatabase + "→" + m.TargetDatabase
		if len(m.Collections) > 0 {
			names := make([]string, 0, len(m.Collections))
			for from := range m.Collections {
				names = append(names, from)
			}
			sort.Strings(names)
			for i, from := range names {
				names[i] = from + "→" + m.Collections[from]
			}
			s += " (" + strings.Join(names, ", ") + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// formatLag shows seconds with two decimals; absent while unknown.
func formatLag(s *float64) string {
	if s == nil {
		return none
	}
	return strconv.FormatFloat(*s, 'f', 2, 64) + "s"
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// formatAge is a channel position's wall time and how old it is.
func formatAge(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return none
	}
	age := now.Sub(*t).Round(100 * time.Millisecond)
	if age < 0 {
		age = 0
	}
	return t.UTC().Format("15:04:05.000") + " (" + age.String() + " ago)"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// renderCluster is the cluster view: one line per member, then the tasks
// nobody owns.
func renderCluster(w io.Writer, c api.Cluster) error {
	if !c.Enabled {
		_, err := fmt.Fprintln(w, "No cluster: this daemon keeps its tasks in its embedded etcd and runs them all.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "MEMBER\tADDRESS\tLEASE\tTASKS\tSTARTED\n")
	for _, m := range c.Members {
		id := m.ID
		if id == c.Self {
			id += " (answered)"
		}
		health := fmt.Sprintf("%ds/%ds ok", m.LeaseRemainingSeconds, c.LeaseTTLSeconds)
		if !m.Healthy {
			health = fmt.Sprintf("%ds/%ds LATE", m.LeaseRemainingSeconds, c.LeaseTTLSeconds)
		}
		tasks := strings.Join(m.Tasks, ",")
		if tasks == "" {
			tasks = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d: %s\t%s\n", id, m.Address, health, len(m.Tasks), tasks, formatTime(m.StartedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Unowned) > 0 {
		_, err := fmt.Fprintf(w, "\nNot owned right now (taken within a second): %s\n", strings.Join(c.Unowned, ", "))
		return err
	}
	return nil
}
