package source

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

func TestLifecycleTransitions(t *testing.T) {
	created := metapb.CollectionState_CollectionCreated
	coll := func(state metapb.CollectionState, parts ...*Partition) *Collection {
		c := &Collection{ID: 1, Name: "c", State: state, Partitions: map[int64]*Partition{}}
		for _, p := range parts {
			c.Partitions[p.ID] = p
		}
		return c
	}
	part := func(id int64, state metapb.PartitionState) *Partition {
		return &Partition{ID: id, CollectionID: 1, Name: "p", State: state}
	}
	pCreated, pDropping := metapb.PartitionState_PartitionCreated, metapb.PartitionState_PartitionDropping

	tests := []struct {
		name  string
		steps func(l *lifecycle) []MetaEvent
		want  []evKey
	}{
		{
			name: "database in state Unknown is not announced",
			steps: func(l *lifecycle) []MetaEvent {
				return l.database(9, &Database{ID: 9, State: metapb.DatabaseState_DatabaseUnknown}, 1)
			},
		},
		{
			name: "database created, then dropping: one drop",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.database(9, &Database{ID: 9, State: metapb.DatabaseState_DatabaseCreated}, 1)
				evs = append(evs, l.database(9, &Database{ID: 9, State: metapb.DatabaseState_DatabaseDropping}, 2)...)
				return append(evs, l.database(9, nil, 3)...)
			},
			want: []evKey{{DatabaseCreated, 9}, {DatabaseDropped, 9}},
		},
		{
			name: "collection re-PUT in Created (alter) is not a second create",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.collection(1, coll(created), 1)
				return append(evs, l.collection(1, coll(created), 2)...)
			},
			want: []evKey{{CollectionCreated, 1}},
		},
		{
			name: "partitions present at creation are adopted, later drops announced",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.collection(1, coll(created, part(5, pCreated)), 1)
				evs = append(evs, l.partition(1, 5, part(5, pCreated), 2)...)
				return append(evs, l.partition(1, 5, part(5, pDropping), 3)...)
			},
			want: []evKey{{CollectionCreated, 1}, {PartitionDropped, 5}},
		},
		{
			name: "partition drops of a dropping collection are implied, not announced",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.collection(1, coll(created, part(5, pCreated)), 1)
				evs = append(evs, l.collection(1, coll(metapb.CollectionState_CollectionDropping), 2)...)
				evs = append(evs, l.partition(1, 5, nil, 3)...)
				return append(evs, l.collection(1, nil, 4)...)
			},
			want: []evKey{{CollectionCreated, 1}, {CollectionDropping, 1}, {CollectionDropped, 1}},
		},
		{
			name: "partition of a collection still Creating waits for the collection",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.partition(1, 5, part(5, pCreated), 1)
				return append(evs, l.collection(1, coll(metapb.CollectionState_CollectionCreating, part(5, pCreated)), 2)...)
			},
		},
		{
			name: "state Dropped counts as dropped",
			steps: func(l *lifecycle) []MetaEvent {
				evs := l.collection(1, coll(created), 1)
				return append(evs, l.collection(1, coll(metapb.CollectionState_CollectionDropped), 2)...)
			},
			want: []evKey{{CollectionCreated, 1}, {CollectionDropped, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarize(tt.steps(newLifecycle(nil)))
			if len(tt.want) == 0 {
				require.Empty(t, got)
				return
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLifecycleSeededFromSnapshotAnnouncesNothingTwice(t *testing.T) {
	snap := &Snapshot{
		Databases: map[int64]*Database{1: {ID: 1, State: metapb.DatabaseState_DatabaseCreated}},
		Collections: map[int64]*Collection{
			2: {ID: 2, State: metapb.CollectionState_CollectionCreated, Partitions: map[int64]*Partition{
				3: {ID: 3, CollectionID: 2, State: metapb.PartitionState_PartitionCreated}}},
			4: {ID: 4, State: metapb.CollectionState_CollectionDropping},
		},
	}
	l := newLifecycle(snap)
	require.Empty(t, l.database(1, snap.Databases[1], 5))
	require.Empty(t, l.collection(2, snap.Collections[2], 5))
	require.Empty(t, l.partition(2, 3, snap.Collections[2].Partitions[3], 5))
	require.Empty(t, l.collection(4, snap.Collections[4], 5))
	require.Equal(t, []evKey{{CollectionDropped, 4}}, summarize(l.collection(4, nil, 6)))
}
