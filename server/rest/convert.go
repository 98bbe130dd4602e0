package rest

import (
	"time"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/sink/kafka"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// This file is the one place where the wire types (package api) meet the
// internal model (corelib, server/task): every field is copied by hand, so
// a change of the internal model cannot change the JSON on the wire unseen.

func toCreateInput(req api.CreateTaskRequest) task.CreateInput {
	spec := corelib.TaskSpec{
		ID: req.ID,
		Target: corelib.Target{
			URI:             req.Target.URI,
			Token:           req.Target.Token,
			TokenFile:       req.Target.TokenFile,
			TokenEnv:        req.Target.TokenEnv,
			ConnectTimeout:  task.DurationOfSeconds(int64(req.Target.ConnectTimeoutSeconds)),
			ChannelNum:      req.Target.ChannelNum,
			IgnorePartition: req.Target.IgnorePartition,
		},
		EnableUserRole:   req.EnableUserRole,
		DisableAutoStart: req.DisableAutoStart,
		WriterMode:       req.WriterMode,
		InitialSync:      req.InitialSync,
		StartFrom:        req.StartFrom,
	}
	if k := req.Target.Kafka; k != nil {
		spec.Target.Kafka = kafkaTargetOf(k)
	}
	if t := req.Target.TLS; t != nil {
		spec.Target.TLS = corelib.TargetTLS{ServerName: t.ServerName, ServerPEMPath: t.ServerPemPath, CAPEMPath: t.CaPemPath, ClientPEMPath: t.ClientPemPath, ClientKeyPath: t.ClientKeyPath}
	}
	for _, s := range req.Scope {
		spec.Scope = append(spec.Scope, corelib.CollectionScope{Database: s.Database, Collection: s.Collection, StartPositions: s.Positions, UseStartPosition: s.UseStartPosition})
	}
	for _, m := range req.NameMapping {
		spec.NameMapping = append(spec.NameMapping, corelib.NameMapping{SourceDatabase: m.SourceDatabase, TargetDatabase: m.TargetDatabase, Collections: m.Collections})
	}
	in := task.CreateInput{Spec: spec}
	if rc := req.ReplicateChannel; rc != nil {
		in.Spec.ReplicateChannel = rc.Name
		in.ReplicateChannelPosition = rc.Position
	}
	return in
}

func toUpdateInput(req api.UpdateTaskRequest) (task.UpdateInput, error) {
	var in task.UpdateInput
	if req.Scope == nil && req.NameMapping == nil && req.Target == nil {
		return in, task.Errorf(task.CodeBadRequest, "the update changes nothing: give scope, nameMapping or target (token, tokenFile, tokenEnv, username and password, tls)")
	}
	if req.Scope != nil {
		in.Scope = []corelib.CollectionScope{}
		for _, s := range req.Scope {
			in.Scope = append(in.Scope, corelib.CollectionScope{Database: s.Database, Collection: s.Collection, StartPositions: s.Positions, UseStartPosition: s.UseStartPosition})
		}
	}
	if req.NameMapping != nil {
		in.SetNameMapping = true
		for _, m := range req.NameMapping {
			in.NameMapping = append(in.NameMapping, corelib.NameMapping{SourceDatabase: m.SourceDatabase, TargetDatabase: m.TargetDatabase, Collections: m.Collections})
		}
	}
	if t := req.Target; t != nil {
		cr := &task.CredentialsUpdate{}
		ways := 0
		if t.Token != nil {
			ways++
			cr.Token = *t.Token
		}
		if t.TokenFile != "" {
			ways++
			cr.TokenFile = t.TokenFile
		}
		if t.TokenEnv != "" {
			ways++
			cr.TokenEnv = t.TokenEnv
		}
		if t.Username != "" || t.Password != "" {
			ways++
			if t.Username == "" || t.Password == "" {
				return in, task.FieldErrorf(task.CodeValidation, "target.username", "give both target.username and target.password, or neither")
			}
			cr.Token = t.Username + ":" + t.Password
		}
		if ways > 1 {
			return in, task.FieldErrorf(task.CodeValidation, "target.token", "give the target's credentials one way: token, tokenFile, tokenEnv or username and password")
		}
		cr.SetToken = ways == 1
		if tls := t.TLS; tls != nil {
			cr.TLS = &corelib.TargetTLS{ServerName: tls.ServerName, ServerPEMPath: tls.ServerPemPath, CAPEMPath: tls.CaPemPath, ClientPEMPath: tls.ClientPemPath, ClientKeyPath: tls.ClientKeyPath}
		}
		if !cr.SetToken && cr.TLS == nil {
			return in, task.FieldErrorf(task.CodeBadRequest, "target", "target in an update takes token, tokenFile, tokenEnv, username and password, or tls; it is empty")
		}
		in.Credentials = cr
	}
	return in, nil
}

func fromView(v task.View) api.Task {
	t := api.Task{
		ID:     v.Spec.ID,
		State:  string(v.State),
		Reason: v.Reason,
		Target: api.TargetView{
			URI:                   v.Spec.Target.URI,
			TokenSet:              v.TokenSet,
			TokenFile:             v.Spec.Target.TokenFile,
			TokenEnv:              v.Spec.Target.TokenEnv,
			ConnectTimeoutSeconds: int(v.Spec.Target.ConnectTimeout / time.Second),
			ChannelNum:            v.Spec.Target.ChannelNum,
			IgnorePartition:       v.Spec.Target.IgnorePartition,
		},
		Scope:            make([]api.Scope, 0, len(v.Spec.Scope)),
		Exclude:          v.Spec.Exclude,
		ReplicateChannel: v.Spec.ReplicateChannel,
		EnableUserRole:   v.Spec.EnableUserRole,
		DisableAutoStart: v.Spec.DisableAutoStart,
		WriterMode:       writerModeOf(v.Spec),
		InitialSync:      v.Spec.InitialSync,
		StartFrom:        v.Spec.StartFrom,
		Pipeline:         PipelineStatusOf(v.Pipeline),
		CreatedAt:        v.CreatedAt,
		UpdatedAt:        v.UpdatedAt,
		Store:            StoreStatusOf(v.Store),
		Owner:            v.Owner,
		OwnershipLost:    v.OwnershipLost,
	}
	if k := v.Spec.Target.Kafka; k != nil {
		t.Target.Kafka = kafkaViewOf(k, kafka.SchemaTopic(k))
	}
	if tls := v.Spec.Target.TLS; tls != (corelib.TargetTLS{}) {
		t.Target.TLS = &api.TLS{ServerName: tls.ServerName, ServerPemPath: tls.ServerPEMPath, CaPemPath: tls.CAPEMPath, ClientPemPath: tls.ClientPEMPath, ClientKeyPath: tls.ClientKeyPath}
	}
	for _, s := range v.Spec.Scope {
		t.Scope = append(t.Scope, api.Scope{Database: s.Database, Collection: s.Collection, Positions: s.StartPositions, UseStartPosition: s.UseStartPosition})
	}
	for _, m := range v.Spec.NameMapping {
		t.NameMapping = append(t.NameMapping, api.NameMapping{SourceDatabase: m.SourceDatabase, TargetDatabase: m.TargetDatabase, Collections: m.Collections})
	}
	return t
}

func statusOf(v task.View) api.TaskStatus {
	return api.TaskStatus{ID: v.Spec.ID, State: string(v.State), Reason: v.Reason, Pipeline: PipelineStatusOf(v.Pipeline), Store: StoreStatusOf(v.Store),
		Owner: v.Owner, OwnershipLost: v.OwnershipLost}
}

// StoreStatusOf converts the controller's note that the task store did not
// answer; nil (the store answered) stays nil. /cdc shows it as store_status.
func StoreStatusOf(s *task.StoreState) *api.StoreStatus {
	if s == nil {
		return nil
	}
	out := &api.StoreStatus{Reachable: false, Since: s.Since.UTC(), AsOf: s.AsOf.UTC()}
	if s.Err != nil {
		out.Error = s.Err.Error()
	}
	return out
}

// PipelineStatusOf converts a pipeline's status to its wire form; nil stays
// nil (no pipeline runs). /cdc shows the same object as pipeline_status.
func PipelineStatusOf(s *corelib.Status) *api.PipelineStatus {
	if s == nil {
		return nil
	}
	out := &api.PipelineStatus{
		Replicating: s.Replicating,
		Detail:      s.Detail,
		LastError:   s.LastError,
		State:       s.State,
		Retries:     s.Retries,
		LagSeconds:  copyPtr(s.LagSeconds),
	}
	if e := s.Error; e != nil {
		out.Error = &api.StatusError{Time: e.Time, Stage: e.Stage, Message: e.Message, ResolvedAt: copyPtr(e.ResolvedAt)}
	}
	out.Phase = s.Phase
	out.Skipped = skippedOf(s.Skipped)
	if s.Waiting != nil {
		out.Waiting = make([]api.WaitStatus, 0, len(s.Waiting))
		for _, w := range s.Waiting {
			out.Waiting = append(out.Waiting, api.WaitStatus{What: w.What, Channels: copySlice(w.Channels), Ts: w.Ts, Until: copyPtr(w.Until), Since: w.Since})
		}
	}
	if sn := s.Snapshot; sn != nil {
		out.Snapshot = &api.SnapshotStatus{Done: sn.Done, Remaining: sn.Remaining}
		if sn.Collections != nil {
			out.Snapshot.Collections = make([]api.SnapshotCollectionStatus, 0, len(sn.Collections))
			for _, c := range sn.Collections {
				out.Snapshot.Collections = append(out.Snapshot.Collections, api.SnapshotCollectionStatus{
					ID: c.ID, Database: c.Database, Name: c.Name, State: c.State, Reason: c.Reason,
					Total: c.Total, Copied: c.Copied, RowsPerSecond: c.RowsPerSecond, ETASeconds: copyPtr(c.ETASeconds),
				})
			}
		}
	}
	if s.Channels != nil {
		out.Channels = make([]api.ChannelStatus, 0, len(s.Channels))
		for _, c := range s.Channels {
			out.Channels = append(out.Channels, api.ChannelStatus{
				Channel:        c.Channel,
				Kind:           c.Kind,
				CheckpointTs:   c.CheckpointTs,
				CheckpointTime: copyPtr(c.CheckpointTime),
				AppliedTs:      c.AppliedTs,
				AppliedTime:    copyPtr(c.AppliedTime),
				LatestTs:       c.LatestTs,
				LatestTime:     copyPtr(c.LatestTime),
				CaughtUp:       c.CaughtUp,
				LagSeconds:     copyPtr(c.LagSeconds),
			})
		}
	}
	if s.Collections != nil {
		out.Collections = make([]api.CollectionStatus, 0, len(s.Collections))
		for _, c := range s.Collections {
			out.Collections = append(out.Collections, api.CollectionStatus{
				ID: c.ID, Database: c.Database, Name: c.Name,
				Inserted: c.Inserted, Deleted: c.Deleted, Upserted: c.Upserted, Operations: c.Operations,
			})
		}
	}
	return out
}

func syncedOf(v task.View, r corelib.SyncReport) api.TaskSynced {
	out := api.TaskSynced{
		ID:          v.Spec.ID,
		State:       string(v.State),
		Synced:      r.Synced,
		SourceNowTs: r.SourceNowTs,
		SourceNow:   r.SourceNow,
		Reason:      r.Reason,
		Skipped:     skippedOf(r.Skipped),
	}
	if r.Channels != nil {
		out.Channels = make([]api.ChannelSync, 0, len(r.Channels))
		for _, c := range r.Channels {
			out.Channels = append(out.Channels, api.ChannelSync{Channel: c.Channel, AppliedTs: c.AppliedTs, AppliedTime: copyPtr(c.AppliedTime), Synced: c.Synced})
		}
	}
	return out
}

func skippedOf(in []corelib.SkipCount) []api.SkipCount {
	if in == nil {
		return nil
	}
	out := make([]api.SkipCount, 0, len(in))
	for _, s := range in {
		out = append(out, api.SkipCount{Reason: s.Reason, Count: s.Count, InScope: s.InScope})
	}
	return out
}

// ProblemFor renders a service error as a problem, with the HTTP status from
// the error catalog. This is the one place REST errors get their status.
func ProblemFor(err error, instance string) api.Problem {
	e := task.AsError(err)
	entry := task.Lookup(e.Code)
	return api.Problem{
		Type:     "urn:milvus-cdc:error:" + string(entry.Code),
		Title:    entry.Title,
		Status:   entry.HTTPStatus,
		Detail:   e.Message,
		Code:     string(entry.Code),
		Field:    e.Field,
		Instance: instance,
	}
}

// writerModeOf names a task's writer mode, "api" for tasks stored before
// the field existed.
func writerModeOf(s corelib.TaskSpec) string {
	if s.WriterMode == "" {
		return corelib.WriterModeAPI
	}
	return s.WriterMode
}

// copySlice copies s, keeping nil and empty apart (they encode differently).
func copySlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// copyPtr copies the value behind p, so the answer shares nothing with the
// pipeline's own status.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func verifyOf(id string, r corelib.VerifyReport) api.TaskVerify {
	out := api.TaskVerify{ID: id, Equal: r.Equal, Mode: r.Mode, Sample: r.Sample, Collections: make([]api.CollectionVerify, 0, len(r.Collections))}
	for _, c := range r.Collections {
		cv := api.CollectionVerify{
			Database: c.Database, Name: c.Name, TargetDatabase: c.TargetDatabase, TargetName: c.TargetName,
			Result: api.VerifyNotEqual, Reason: c.Reason, SourceRows: c.SourceRows, TargetRows: c.TargetRows,
			SourceKeyHash: c.SourceKeyHash, TargetKeyHash: c.TargetKeyHash, RowsCompared: c.Compared,
			Missing: c.Missing, Extra: c.Extra, Differing: c.Differing,
			MissingKeys: c.MissingKeys, ExtraKeys: c.ExtraKeys, DifferingKeys: c.DifferingKeys, DifferingFields: c.DifferingFields,
		}
		if c.Equal {
			cv.Result = api.VerifyEqual
		}
		for _, p := range c.Partitions {
			cv.Partitions = append(cv.Partitions, api.PartitionVerify{Name: p.Name, SourceRows: p.SourceRows, TargetRows: p.TargetRows})
		}
		out.Collections = append(out.Collections, cv)
	}
	return out
}
