package task

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
)

// validTaskID keeps ids safe as one etcd key segment.
var validTaskID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validateSpec checks a create request's fields in milvus-cdc's order, before
// anything touches the network or the store. Messages are milvus-cdc's where
// it has one.
func (c *Controller) validateSpec(in CreateInput) error {
	s := in.Spec
	if s.ID != "" && !validTaskID.MatchString(s.ID) {
		return FieldErrorf(CodeValidation, "id", "the task_id %q is invalid: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", s.ID)
	}
	if err := validateTarget(s); err != nil {
		return err
	}
	if s.Target.Kafka == nil { // a Milvus target: its URI's form, and not the source itself
		addr, err := targetAddress(s.Target)
		if err != nil {
			return err
		}
		if err := c.checkNotTheSource(s.Target, addr); err != nil {
			return err
		}
	}
	if s.Target.ConnectTimeout < 0 {
		return FieldErrorf(CodeValidation, "target.connectTimeoutSeconds", "the milvus connect timeout is less zero")
	}
	if s.Target.ConnectTimeout > MaxConnectTimeout {
		return FieldErrorf(CodeValidation, "target.connectTimeoutSeconds", "the milvus connect timeout exceeds %d seconds; set 0 (the default, %d s) to %d", int(MaxConnectTimeout/time.Second), int(corelib.DefaultConnectTimeout/time.Second), int(MaxConnectTimeout/time.Second))
	}
	if s.Target.ChannelNum < 0 {
		return FieldErrorf(CodeValidation, "target.channelNum", "the target channel num is less zero")
	}
	if s.Target.ChannelNum > MaxChannelNum {
		return FieldErrorf(CodeValidation, "target.channelNum", "the target channel num %d exceeds %d; set the target's rootCoord.dmlChannelNum (0 = the same as the source), at most %d", s.Target.ChannelNum, MaxChannelNum, MaxChannelNum)
	}
	if t := s.Target.TLS; (t.ClientPEMPath == "") != (t.ClientKeyPath == "") {
		return FieldErrorf(CodeValidation, "target.tls.clientPemPath", "set both the client certificate and the client key for mutual TLS, or neither")
	}
	if len(s.Scope) == 0 {
		return FieldErrorf(CodeValidation, "scope", "the collection info is empty")
	}
	switch s.WriterMode {
	case "", corelib.WriterModeAPI, corelib.WriterModeReplicate, corelib.WriterModeKafka:
	default:
		return FieldErrorf(CodeValidation, "writerMode", "the writer mode %q is unknown: use %q (the default) or %q, or give a Kafka target (writer mode %q)", s.WriterMode, corelib.WriterModeAPI, corelib.WriterModeReplicate, corelib.WriterModeKafka)
	}
	if s.InitialSync && s.WriterMode == corelib.WriterModeReplicate {
		// The replicate writer re-sends the source's messages with their
		// timestamps; rows read through the query API have none to give.
		return FieldErrorf(CodeValidation, "initialSync", "initialSync (initial_sync) cannot be used with writer mode %q: that mode replays the source's own messages with their timestamps, which rows copied through the query API do not have; use writer mode %q for an initial sync, or copy the existing data with milvus-backup first (docs/replication.md)", corelib.WriterModeReplicate, corelib.WriterModeAPI)
	}
	for i, sc := range s.Scope {
		field := fmt.Sprintf("scope[%d]", i)
		if !utf8.ValidString(sc.Database) {
			return FieldErrorf(CodeValidation, field+".database", "the database name is not valid UTF-8; send it as UTF-8 text")
		}
		if !utf8.ValidString(sc.Collection) {
			return FieldErrorf(CodeValidation, field+".collection", "the collection name is not valid UTF-8; send it as UTF-8 text")
		}
		if sc.Database == "" {
			return FieldErrorf(CodeValidation, field+".database", "the database name is empty; use \"*\" for all databases or a database name")
		}
		if len(sc.Database) > c.limits.MaxNameLength {
			return FieldErrorf(CodeValidation, field+".database", "the db name length exceeds %d characters, %s", c.limits.MaxNameLength, sc.Database)
		}
		if sc.Collection == corelib.Wildcard && len(sc.StartPositions) > 0 {
			return FieldErrorf(CodeValidation, field+".positions", "the collection name is `*`, the positions should be empty")
		}
		for key := range sc.StartPositions {
			if i := strings.LastIndex(key, "_"); i < 0 || !strings.Contains(key[i+1:], "v") {
				return FieldErrorf(CodeValidation, field+".positions", "the position channel name is not virtual channel, %s", key)
			}
		}
		msg := ""
		if sc.Collection == "" {
			msg += "there is a collection name that is empty. "
		}
		if len(sc.Collection) > c.limits.MaxNameLength {
			msg += fmt.Sprintf("there are some collection names whose length exceeds %d characters, [%s]", c.limits.MaxNameLength, sc.Collection)
		}
		if msg != "" {
			return FieldErrorf(CodeValidation, field+".collection", "%s", msg)
		}
	}
	for i := range s.Scope {
		for j := i + 1; j < len(s.Scope); j++ {
			a, b := fullName(s.Scope[i]), fullName(s.Scope[j])
			if matchName(a, b) || matchName(b, a) {
				return FieldErrorf(CodeValidation, fmt.Sprintf("scope[%d]", j), "the scope entries %s and %s overlap; merge them", a, b)
			}
		}
	}
	if s.ReplicateChannel != "" && s.ReplicateChannel != c.limits.ReplicateChannel {
		return FieldErrorf(CodeValidation, "replicateChannel.name", "the rpc channel is invalid, the channel name should be the same as the source config")
	}
	if err := validateStartFrom(s.StartFrom, time.Now()); err != nil {
		return err
	}
	for i, m := range s.NameMapping {
		field := fmt.Sprintf("nameMapping[%d]", i)
		if m.SourceDatabase == "" {
			return FieldErrorf(CodeValidation, field+".sourceDatabase", "the source database of a name mapping is empty")
		}
		if !utf8.ValidString(m.SourceDatabase) || !utf8.ValidString(m.TargetDatabase) {
			return FieldErrorf(CodeValidation, field, "a database name of the name mapping is not valid UTF-8; send it as UTF-8 text")
		}
		for from, to := range m.Collections {
			if !utf8.ValidString(from) || !utf8.ValidString(to) {
				return FieldErrorf(CodeValidation, field+".collections", "a collection name of the name mapping is not valid UTF-8; send it as UTF-8 text")
			}
		}
	}
	return nil
}

// validateTarget checks the target: a Milvus URI, or a Kafka target (not
// both), in the writer mode that fits it.
func validateTarget(s corelib.TaskSpec) error {
	k := s.Target.Kafka
	if k == nil {
		if strings.TrimSpace(s.Target.URI) == "" {
			return FieldErrorf(CodeValidation, "target.uri", "the downstream address is empty")
		}
		if s.WriterMode == corelib.WriterModeKafka {
			return FieldErrorf(CodeValidation, "writerMode", "writer mode %q publishes to Kafka: give a Kafka target (target.kafka or kafka_connect_param) instead of a Milvus URI", corelib.WriterModeKafka)
		}
		return nil
	}
	if s.Target.URI != "" {
		return FieldErrorf(CodeValidation, "target", "don't support milvus and kafka at the same time now")
	}
	if err := kafka.Validate(k); err != nil {
		var fe *kafka.FieldError
		if errors.As(err, &fe) {
			return FieldErrorf(CodeValidation, fe.Field, "%s", fe.Message)
		}
		return FieldErrorf(CodeValidation, "target.kafka", "%v", err)
	}
	if s.WriterMode != corelib.WriterModeKafka {
		return FieldErrorf(CodeValidation, "writerMode", "a Kafka target is written in writer mode %q, not %q: leave writerMode empty", corelib.WriterModeKafka, s.WriterMode)
	}
	return nil
}

// Bounds of the numeric target fields. A connect timeout holds the create
// request open, so it stays within what an HTTP client waits for.
const (
	MaxConnectTimeout = 300 * time.Second
	MaxChannelNum     = 1024
)

// DurationOfSeconds converts a wire count of seconds to a duration,
// saturating instead of overflowing, so a huge value is refused as too
// large rather than wrapping around to a negative one.
func DurationOfSeconds(n int64) time.Duration {
	const maxSeconds = math.MaxInt64 / int64(time.Second)
	switch {
	case n > maxSeconds:
		return math.MaxInt64
	case n < -maxSeconds:
		return math.MinInt64
	}
	return time.Duration(n) * time.Second
}

// targetAddress checks the target URI's form, http(s)://host:port or
// host:port (what the Milvus SDK dials), and returns its host:port.
func targetAddress(t corelib.Target) (string, error) {
	const field = "target.uri"
	raw := strings.TrimSpace(t.URI)
	shown := t.Redacted()
	if !strings.Contains(raw, "://") {
		raw = "tcp://" + raw // host:port, as the Milvus SDK reads it
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", FieldErrorf(CodeValidation, field, "the target uri %q is not a URI; use http://host:port, https://host:port or host:port", shown)
	}
	switch u.Scheme {
	case "http", "https", "tcp": // tcp: none was given
	default:
		return "", FieldErrorf(CodeValidation, field, "the target uri %q has the scheme %q; a Milvus target is reached over gRPC: use http://host:port, https://host:port or host:port", shown, u.Scheme)
	}
	if u.Hostname() == "" {
		return "", FieldErrorf(CodeValidation, field, "the target uri %q has no host; use http://host:port, https://host:port or host:port", shown)
	}
	port := u.Port()
	if port == "" {
		if u.Scheme != "https" {
			return "", FieldErrorf(CodeValidation, field, "the target uri %q has no port; add the target proxy's port, e.g. http://%s:19530", shown, u.Hostname())
		}
		port = "443" // as the Milvus SDK does for https
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", FieldErrorf(CodeValidation, field, "the target uri %q has the port %q; use a port from 1 to 65535", shown, port)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// checkNotTheSource refuses a target that is the source Milvus itself
// (source.milvus.address): the task would replicate its own writes forever.
func (c *Controller) checkNotTheSource(t corelib.Target, targetAddr string) error {
	if c.limits.SourceMilvusAddress == "" {
		return nil
	}
	if SameAddress(targetAddr, c.limits.SourceMilvusAddress) {
		return FieldErrorf(CodeValidation, "target.uri", "the target %s is the source Milvus (source.milvus.address %s): a task replicating a Milvus to itself would loop; point target.uri at another Milvus, or set source.milvus.address to the source's proxy if this target is not it", t.Redacted(), c.limits.SourceMilvusAddress)
	}
	return nil
}

// SameAddress reports whether two addresses name the same host:port: any
// http(s):// prefix is ignored, host names compare case-insensitively, and
// localhost and every loopback IP are one host.
func SameAddress(a, b string) bool {
	ha, pa, oka := splitAddress(a)
	hb, pb, okb := splitAddress(b)
	return oka && okb && pa == pb && ha == hb
}

func splitAddress(addr string) (host, port string, ok bool) {
	s := strings.ToLower(strings.TrimSpace(addr))
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	s, _, _ = strings.Cut(s, "/")
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", "", false
	}
	if host == "localhost" {
		return "loopback", port, true
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.IsLoopback() {
			return "loopback", port, true
		}
		return ip.String(), port, true
	}
	return host, port, true
}

// fullName is milvus-cdc's "db.collection" form used for overlap checks.
func fullName(s corelib.CollectionScope) string { return s.Database + "." + s.Collection }

// matchName reports whether pattern ("db.coll", either part may be "*")
// covers name.
func matchName(pattern, name string) bool {
	pd, pc, _ := strings.Cut(pattern, ".")
	nd, nc, _ := strings.Cut(name, ".")
	return (pd == corelib.Wildcard || pd == nd) && (pc == corelib.Wildcard || pc == nc)
}

// targetKey identifies a target for overlap checks: the URI without
// scheme, or for Kafka the brokers (milvus-cdc compares the address).
func targetKey(t corelib.Target) string {
	if t.Kafka != nil {
		brokers := make([]string, len(t.Kafka.Brokers))
		for i, b := range t.Kafka.Brokers {
			brokers[i] = strings.ToLower(strings.TrimSpace(b))
		}
		sort.Strings(brokers)
		return "kafka:" + strings.Join(brokers, ",")
	}
	u := strings.ToLower(strings.TrimSpace(t.URI))
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	return strings.TrimRight(u, "/")
}

// checkAgainstExisting applies the rules that depend on other tasks on the
// same target (milvus-cdc's order: user-role, duplicate scope, name mapping)
// and returns the names the new task must exclude.
func checkAgainstExisting(spec corelib.TaskSpec, sameTarget []corelib.TaskSpec) ([]string, error) {
	var existing []ownedName
	var excluded []string
	for _, t := range sameTarget {
		// A replica's time ticks come from its one task: a second writer on
		// the same target channels could tick below the first one's data.
		if spec.WriterMode == corelib.WriterModeReplicate || t.WriterMode == corelib.WriterModeReplicate {
			return nil, FieldErrorf(CodeTargetMode, "writerMode", "task %s already replicates to this target; a target in replicate mode takes exactly one task (writer mode \"replicate\"), so widen that task's scope instead", t.ID)
		}
		if spec.EnableUserRole && t.EnableUserRole {
			return nil, FieldErrorf(CodeDuplicateScope, "enableUserRole", "the enable user role param is duplicate: task %s already replicates users and roles to this target; leave enableUserRole off or delete task %s", t.ID, t.ID)
		}
		for _, sc := range t.Scope {
			existing = append(existing, ownedName{name: fullName(sc), task: t.ID})
		}
		excluded = append(excluded, t.Exclude...)
	}
	var dups []string
	var owners []ownedName // per duplicate: the task (and its scope entry) that covers it
	for _, sc := range spec.Scope {
		n := fullName(sc)
		if o, ok := findOwned(existing, func(e ownedName) bool { return e.name == n }); ok {
			dups, owners = append(dups, n), append(owners, o)
			continue
		}
		if n == "*.*" {
			continue
		}
		if o, ok := findOwned(existing, func(e ownedName) bool {
			return strings.Contains(e.name, corelib.Wildcard) && matchName(e.name, n) && !contains(excluded, n)
		}); ok {
			dups, owners = append(dups, n), append(owners, o)
		}
	}
	if len(dups) > 0 {
		return nil, FieldErrorf(CodeDuplicateScope, "scope", "the collection name is duplicate with existing task, %v; %s", dups, describeOwners(dups, owners))
	}
	for i, m := range spec.NameMapping {
		names := []string{m.SourceDatabase + "." + corelib.Wildcard}
		if len(m.Collections) > 0 {
			names = names[:0]
			for src := range m.Collections {
				names = append(names, m.SourceDatabase+"."+src)
			}
		}
		for _, name := range names {
			covered := false
			for _, sc := range spec.Scope {
				if matchName(fullName(sc), name) {
					covered = true
					break
				}
			}
			if !covered {
				return nil, FieldErrorf(CodeValidation, fmt.Sprintf("nameMapping[%d]", i), "the collection name in the name mapping is not in the collection info, checkout it")
			}
		}
	}
	var exclude []string
	for _, sc := range spec.Scope {
		for _, e := range existing {
			if matchName(fullName(sc), e.name) && !contains(exclude, e.name) {
				exclude = append(exclude, e.name)
			}
		}
	}
	return exclude, nil
}

// ownedName is a scope entry of an existing task.
type ownedName struct{ name, task string }

func findOwned(list []ownedName, match func(ownedName) bool) (ownedName, bool) {
	for _, o := range list {
		if match(o) {
			return o, true
		}
	}
	return ownedName{}, false
}

// describeOwners names, after milvus-cdc's text, the tasks that already
// cover each duplicate and what to do about it.
func describeOwners(dups []string, owners []ownedName) string {
	parts := make([]string, 0, len(dups))
	var tasks []string
	for i, d := range dups {
		o := owners[i]
		part := fmt.Sprintf("task %s already replicates %s", o.task, d)
		if o.name != d {
			part += " (its scope " + o.name + ")"
		}
		parts = append(parts, part)
		if !contains(tasks, o.task) {
			tasks = append(tasks, o.task)
		}
	}
	return fmt.Sprintf("%s to this target: leave it out of the scope, or delete task %s first", strings.Join(parts, ", "), strings.Join(tasks, " and "))
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// decodeStartPositions turns user-supplied positions into initial checkpoints
// (milvus-cdc rules 25-28, in its order).
func decodeStartPositions(in CreateInput) ([]corelib.Checkpoint, error) {
	var cps []corelib.Checkpoint
	for i, sc := range in.Spec.Scope {
		field := fmt.Sprintf("scope[%d].positions", i)
		collectionID := int64(-1)
		for _, key := range sortedKeys(sc.StartPositions) {
			vc, err := source.ParseVChannel(key)
			if err != nil {
				return nil, FieldErrorf(CodeValidation, field, "the vchannel is invalid, %s, err: %v", key, err)
			}
			id := vc.CollectionID
			pos, raw, err := decodePosition(sc.StartPositions[key])
			if err != nil {
				return nil, &Error{Code: CodeInvalidPosition, Field: field, Message: fmt.Sprintf("fail to decode the position data: %v", err), Err: err}
			}
			if collectionID != -1 && collectionID != id {
				return nil, FieldErrorf(CodeValidation, field, "the channel position info should be in the same collection")
			}
			collectionID = id
			cps = append(cps, corelib.Checkpoint{Channel: key, CollectionID: id, Position: raw, Timestamp: pos.GetTimestamp()})
		}
	}
	if in.ReplicateChannelPosition != "" {
		pos, raw, err := decodePosition(in.ReplicateChannelPosition)
		if err != nil {
			return nil, &Error{Code: CodeInvalidPosition, Field: "replicateChannel.position", Message: fmt.Sprintf("fail to decode the rpc position data: %v", err), Err: err}
		}
		cps = append(cps, corelib.Checkpoint{Channel: in.Spec.ReplicateChannel, CollectionID: corelib.ReplicateChannelCollectionID, Position: raw, Timestamp: pos.GetTimestamp()})
	}
	return cps, nil
}

// decodePosition decodes base64 (StdEncoding) of a protobuf msgpb.MsgPosition.
func decodePosition(b64 string) (*msgpb.MsgPosition, []byte, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, nil, err
	}
	pos := &msgpb.MsgPosition{}
	if err := proto.Unmarshal(raw, pos); err != nil {
		return nil, nil, err
	}
	return pos, raw, nil
}

// validateStartFrom checks startFrom: latest, earliest, or an RFC 3339 time
// that is not in the future.
func validateStartFrom(v string, now time.Time) error {
	_, at, err := corelib.ParseStartFrom(v)
	if err != nil {
		return FieldErrorf(CodeValidation, "startFrom", "%v", err)
	}
	if at.After(now) {
		return FieldErrorf(CodeValidation, "startFrom", "startFrom %s is in the future (the daemon's clock says %s); give a past time, %q or %q", at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), corelib.StartFromLatest, corelib.StartFromEarliest)
	}
	return nil
}
