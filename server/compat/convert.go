package compat

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/meta"
	"github.com/milvus-cdc/milvus-cdc/server/rest"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// defaultDatabase is the database collection_infos refers to.
const defaultDatabase = "default"

// toCreateInput checks the parts of a create request that exist only in the
// milvus-cdc wire format (milvus-cdc's rules 1-14, in its order and with its
// messages) and converts it to the internal model. The service layer checks
// the rest in the same order.
func toCreateInput(req *CreateRequest, maxNameLength int) (task.CreateInput, error) {
	m, k := req.MilvusConnectParam, req.KafkaConnectParam
	hasMilvus := m.URI != "" || m.Host != "" || m.Port != 0
	hasKafka := k.Address != ""
	bad := func(format string, args ...any) error {
		return task.Errorf(task.CodeValidation, format, args...)
	}
	switch {
	case !hasMilvus && !hasKafka:
		return task.CreateInput{}, bad("the downstream address is empty")
	case hasMilvus && hasKafka:
		return task.CreateInput{}, bad("don't support milvus and kafka at the same time now")
	}
	if hasMilvus {
		if m.URI == "" && m.Host == "" {
			return task.CreateInput{}, bad("the milvus host is empty")
		}
		if m.URI == "" && m.Port <= 0 {
			return task.CreateInput{}, bad("the milvus port is less or equal zero")
		}
		if (m.Username == "") != (m.Password == "") {
			return task.CreateInput{}, bad("cannot set only one of the milvus username and password")
		}
		if m.ConnectTimeout < 0 {
			return task.CreateInput{}, bad("the milvus connect timeout is less zero")
		}
	}
	if hasKafka && k.Topic == "" {
		return task.CreateInput{}, bad("the kafka topic is empty")
	}
	if req.BufferConfig.Period < 0 {
		return task.CreateInput{}, bad("the cache period is less zero")
	}
	if req.BufferConfig.Size < 0 {
		return task.CreateInput{}, bad("the cache size is less zero")
	}

	switch {
	case len(req.CollectionInfos) == 0 && len(req.DBCollections) == 0:
		return task.CreateInput{}, bad("the collection info is empty")
	case len(req.CollectionInfos) > 1 || len(req.DBCollections) > 1:
		return task.CreateInput{}, bad("the collection info should be only one")
	case len(req.CollectionInfos) > 0 && len(req.DBCollections) > 0:
		return task.CreateInput{}, bad("the collection info and db collection info should be only one")
	}
	db, info := defaultDatabase, CollectionInfo{}
	if len(req.CollectionInfos) == 1 {
		info = req.CollectionInfos[0]
	}
	for name, infos := range req.DBCollections { // exactly one key
		if len(name) > maxNameLength {
			return task.CreateInput{}, bad("the db name length exceeds %d characters, %s", maxNameLength, name)
		}
		if len(infos) == 0 {
			return task.CreateInput{}, bad("empty collection info")
		}
		if len(infos) > 1 {
			return task.CreateInput{}, bad("the collection info should be only one.")
		}
		if name != "" {
			db = name
		}
		info = infos[0]
	}

	target := milvusTarget(m)
	if hasKafka {
		target = corelib.Target{Kafka: kafkaTarget(k)}
	}
	spec := corelib.TaskSpec{
		ID:     req.TaskID,
		Target: target,
		Scope: []corelib.CollectionScope{{
			Database:         db,
			Collection:       info.Name,
			StartPositions:   info.Positions,
			UseStartPosition: info.UseStartPosition,
		}},
		ReplicateChannel: req.RPCChannelInfo.Name,
		EnableUserRole:   req.ExtraInfo.EnableUserRole,
		DisableAutoStart: req.DisableAutoStart,
		WriterMode:       req.WriterMode,
		InitialSync:      req.InitialSync,
	}
	for _, nm := range req.NameMapping {
		spec.NameMapping = append(spec.NameMapping, corelib.NameMapping{
			SourceDatabase: nm.SourceDB, TargetDatabase: nm.TargetDB, Collections: nm.CollectionMapping,
		})
	}
	return task.CreateInput{Spec: spec, ReplicateChannelPosition: req.RPCChannelInfo.Position}, nil
}

// milvusTarget is the Milvus target of milvus_connect_param.
func milvusTarget(m MilvusConnectParam) corelib.Target {
	return corelib.Target{
		URI:            targetURI(m),
		Token:          targetToken(m),
		ConnectTimeout: task.DurationOfSeconds(int64(m.ConnectTimeout)),
		TLS: corelib.TargetTLS{
			ServerName:    m.DialConfig.ServerName,
			ServerPEMPath: m.DialConfig.ServerPemPath,
			CAPEMPath:     m.DialConfig.CaPemPath,
			ClientPEMPath: m.DialConfig.ClientPemPath,
			ClientKeyPath: m.DialConfig.ClientKeyPath,
		},
		ChannelNum:      m.ChannelNum,
		IgnorePartition: m.IgnorePartition,
	}
}

// targetURI prefers uri; the deprecated host/port/enable_tls form becomes
// host:port, with https:// when TLS is on.
func targetURI(m MilvusConnectParam) string {
	if m.URI != "" {
		return m.URI
	}
	hostPort := m.Host + ":" + strconv.Itoa(m.Port)
	if m.EnableTLS {
		return "https://" + hostPort
	}
	return hostPort
}

// targetToken prefers token; otherwise it is built from username/password.
func targetToken(m MilvusConnectParam) string {
	if m.Token != "" || m.Username == "" {
		return m.Token
	}
	return m.Username + ":" + m.Password
}

// compatState is the state milvus-cdc would show. It has no failed state:
// a task stopped on an error retrying cannot fix is Paused there too (with
// the error as reason), which is what its clients already handle: a paused
// task that needs attention and a resume.
func compatState(s meta.State) string {
	if s == meta.StateFailed {
		return string(meta.StatePaused)
	}
	return string(s)
}

// fromView converts a task view to the wire Task. The view carries no secrets;
// the token, username and password keys stay absent.
func fromView(v task.View) Task {
	t := Task{
		TaskID:      v.Spec.ID,
		State:       compatState(v.State),
		Reason:      v.Reason,
		InitialSync: v.Spec.InitialSync,
	}
	if k := v.Spec.Target.Kafka; k != nil {
		t.KafkaConnectParam = kafkaConnectParam(k)
	} else {
		t.MilvusConnectParam = MilvusConnectParam{
			URI:             v.Spec.Target.URI,
			ConnectTimeout:  int(v.Spec.Target.ConnectTimeout / time.Second),
			ChannelNum:      v.Spec.Target.ChannelNum,
			IgnorePartition: v.Spec.Target.IgnorePartition,
			EnableTLS:       strings.HasPrefix(strings.ToLower(v.Spec.Target.URI), "https://") || v.Spec.Target.TLS.Enabled(),
			DialConfig: DialConfig{
				ServerName:    v.Spec.Target.TLS.ServerName,
				ServerPemPath: v.Spec.Target.TLS.ServerPEMPath,
				CaPemPath:     v.Spec.Target.TLS.CAPEMPath,
				ClientPemPath: v.Spec.Target.TLS.ClientPEMPath,
				ClientKeyPath: v.Spec.Target.TLS.ClientKeyPath,
			},
		}
	}
	t.PipelineStatus = rest.PipelineStatusOf(v.Pipeline)
	t.StoreStatus = rest.StoreStatusOf(v.Store)
	if t.Reason == "" && v.Pipeline != nil && !v.Pipeline.Replicating && v.State == "Running" {
		// Say so rather than let a "Running" task look like it moves data.
		t.Reason = v.Pipeline.Detail
	}
	// collection_infos means the default database; other databases (and "*")
	// are shown as db_collections.
	for _, sc := range v.Spec.Scope {
		info := CollectionInfo{Name: sc.Collection, Positions: sc.StartPositions, UseStartPosition: sc.UseStartPosition}
		if sc.Database == defaultDatabase {
			t.CollectionInfos = append(t.CollectionInfos, info)
			continue
		}
		if t.DBCollections == nil {
			t.DBCollections = map[string][]CollectionInfo{}
		}
		t.DBCollections[sc.Database] = append(t.DBCollections[sc.Database], info)
	}
	return t
}

// positionsOf converts checkpoints to milvus-cdc's position entries:
// time is the physical milliseconds of the checkpoint timestamp and
// tt = ComposeTS(time+1, 0), as milvus-cdc reports them.
func positionsOf(cps []corelib.Checkpoint) []Position {
	out := make([]Position, 0, len(cps))
	for _, cp := range cps {
		physical := int64(cp.Timestamp >> 18)
		out = append(out, Position{
			CollectionID: cp.CollectionID,
			ChannelName:  cp.Channel,
			Time:         physical,
			TT:           uint64(physical+1) << 18,
			MsgID:        encodeBase64(cp.Position),
		})
	}
	return out
}

func unknownOperation(op string) string { return fmt.Sprintf("unsupported operation: %s", op) }
