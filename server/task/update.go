package task

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib"
	"github.com/milvus-cdc/milvus-cdc/corelib/source"
	"github.com/milvus-cdc/milvus-cdc/meta"
)

// UpdateInput is a change of a paused task in the internal model. A nil
// field is left as it is.
type UpdateInput struct {
	// Scope replaces the task's scope. Entries the task already has keep
	// their positions; new entries cannot give positions.
	Scope []corelib.CollectionScope
	// NameMapping replaces the name mapping when SetNameMapping is true (an
	// empty one removes it).
	NameMapping    []corelib.NameMapping
	SetNameMapping bool
	// Credentials replaces the target's credentials.
	Credentials *CredentialsUpdate
}

// CredentialsUpdate is a target's new credentials. When SetToken is true,
// Token, TokenFile and TokenEnv replace the three (at most one set; none
// removes the token). A non-nil TLS replaces the TLS material (an empty one
// removes it).
type CredentialsUpdate struct {
	SetToken  bool
	Token     string
	TokenFile string
	TokenEnv  string
	TLS       *corelib.TargetTLS
}

// Update changes a Paused task: its scope, name mapping and target
// credentials. The checkpoints of the channels it reads stay, so what it
// kept continues where it stopped; a collection it adds is read from those
// checkpoints on the channels the task already reads and from the channel's
// end at the update on the others (rows written before are not copied).
// Nothing changes when the input is refused.
func (c *Controller) Update(ctx context.Context, id string, in UpdateInput) (View, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.getTask(ctx, id)
	if err != nil {
		return View{}, err
	}
	if _, running := c.pipeline(id); running || t.State != meta.StatePaused {
		return View{}, Errorf(CodeStateConflict, "the task %s is %s; only a Paused task can be updated: pause it first (POST /api/v1/tasks/%s/pause), update it, then resume it", id, t.State, id)
	}
	spec, err := patchedSpec(t.Spec, in)
	if err != nil {
		return View{}, err
	}
	if err := c.validateSpec(CreateInput{Spec: spec}); err != nil {
		return View{}, err
	}
	if in.Credentials != nil { // the new credentials must work, as at create
		if err := c.probeTarget(ctx, spec.Target); err != nil {
			return View{}, err
		}
		resolved, err := c.withResolvedToken(spec)
		if err != nil {
			return View{}, err
		}
		if err := c.factory.Verify(ctx, resolved); err != nil {
			if errors.Is(err, corelib.ErrTargetMode) {
				return View{}, &Error{Code: CodeTargetMode, Field: "writerMode", Message: err.Error(), Err: err}
			}
			return View{}, &Error{Code: CodeTargetUnreachable, Field: "target", Message: fmt.Sprintf("fail to connect the milvus with the new credentials: %v", err), Err: err}
		}
	} else if _, err := c.withResolvedToken(spec); err != nil {
		return View{}, err
	}
	all, err := c.store.ListTasks(ctx)
	if err != nil {
		return View{}, wrap(storeCode(err), err, "fail to list the tasks from etcd: %v", err)
	}
	var sameTarget []corelib.TaskSpec
	for _, o := range all {
		if o.Spec.ID != id && targetKey(o.Spec.Target) == targetKey(spec.Target) {
			sameTarget = append(sameTarget, o.Spec)
		}
	}
	if spec.Exclude, err = checkAgainstExisting(spec, sameTarget); err != nil {
		return View{}, err
	}
	if err := c.pinAddedChannels(ctx, t.Spec, spec); err != nil {
		return View{}, err
	}
	t.Spec = spec
	updated, err := c.store.UpdateTask(ctx, t)
	if err != nil {
		return View{}, c.storeError(err, id, "fail to update the task, task_id: %s: %v")
	}
	c.lg.Info("task updated", zap.String("task_id", id), zap.Int("scope_entries", len(spec.Scope)),
		zap.Bool("name_mapping_changed", in.SetNameMapping), zap.Bool("credentials_changed", in.Credentials != nil))
	return c.view(updated), nil
}

// patchedSpec applies an update to a stored spec, refusing what an update
// cannot change.
func patchedSpec(old corelib.TaskSpec, in UpdateInput) (corelib.TaskSpec, error) {
	spec := old
	if in.Scope != nil {
		had := map[string]corelib.CollectionScope{}
		for _, s := range old.Scope {
			had[fullName(s)] = s
		}
		spec.Scope = make([]corelib.CollectionScope, 0, len(in.Scope))
		for i, s := range in.Scope {
			prev, kept := had[fullName(s)]
			switch {
			case kept && len(s.StartPositions) == 0 && !s.UseStartPosition:
				s = prev // what it started from stays
			case kept && (!maps.Equal(s.StartPositions, prev.StartPositions) || s.UseStartPosition != prev.UseStartPosition):
				return corelib.TaskSpec{}, FieldErrorf(CodeValidation, fmt.Sprintf("scope[%d].positions", i), "the start of %s cannot change once the task runs; leave positions and useStartPosition out (or as the task shows them)", fullName(s))
			case !kept && (len(s.StartPositions) > 0 || s.UseStartPosition):
				return corelib.TaskSpec{}, FieldErrorf(CodeValidation, fmt.Sprintf("scope[%d].positions", i), "positions and useStartPosition are accepted only at create; an added collection %s starts from the task's checkpoints (or the channel's end at the update); leave them out", fullName(s))
			}
			spec.Scope = append(spec.Scope, s)
		}
	}
	if in.SetNameMapping {
		spec.NameMapping = in.NameMapping
	}
	if cr := in.Credentials; cr != nil {
		if old.Target.Kafka != nil {
			return corelib.TaskSpec{}, FieldErrorf(CodeValidation, "target", "the task's target is Kafka; only a Milvus target's token and TLS can be updated")
		}
		if cr.SetToken {
			spec.Target.Token, spec.Target.TokenFile, spec.Target.TokenEnv = cr.Token, cr.TokenFile, cr.TokenEnv
		}
		if cr.TLS != nil {
			spec.Target.TLS = *cr.TLS
		}
	}
	return spec, nil
}

// pinAddedChannels stores, for the channels of the collections the update
// adds that the task has no checkpoint on, their current end: they are read
// from there, not from the collections' creation.
func (c *Controller) pinAddedChannels(ctx context.Context, old, spec corelib.TaskSpec) error {
	sp, ok := c.factory.(corelib.StartPositioner)
	if !ok {
		return nil
	}
	cps, err := c.store.LoadCheckpoints(ctx, old.ID)
	if err != nil {
		return wrap(storeCode(err), err, "fail to get the task position, task_id: %s: %v", old.ID, err)
	}
	have := map[string]bool{spec.ReplicateChannel: true, c.limits.ReplicateChannel: true}
	for _, cp := range cps {
		have[cp.Channel] = true
		if vc, err := source.ParseVChannel(cp.Channel); err == nil {
			have[vc.PChannel] = true
		}
	}
	added := spec
	added.StartFrom = "" // the update's time, not the create's choice
	added.Scope = nil
	for _, s := range spec.Scope {
		if !scopeHas(old.Scope, s) {
			added.Scope = append(added.Scope, s)
		}
	}
	if len(added.Scope) == 0 {
		return nil
	}
	pinned, err := sp.StartPositions(ctx, added, have)
	if err != nil {
		return wrap(CodeSourceUnavailable, err, "fail to read the start positions of the source channels: %v", err)
	}
	for _, cp := range pinned {
		if cp.CollectionID == corelib.ReplicateChannelCollectionID || have[cp.Channel] {
			continue
		}
		cp.Revision = 0 // create: the task has none on this channel
		if _, err := c.store.SaveCheckpoint(ctx, old.ID, cp); err != nil && !errors.Is(err, meta.ErrConflict) && !errors.Is(err, corelib.ErrConflict) {
			return wrap(storeCode(err), err, "fail to save the start position of channel %s, task_id: %s: %v", cp.Channel, old.ID, err)
		}
	}
	return nil
}

func scopeHas(list []corelib.CollectionScope, s corelib.CollectionScope) bool {
	for _, o := range list {
		if fullName(o) == fullName(s) {
			return true
		}
	}
	return false
}
