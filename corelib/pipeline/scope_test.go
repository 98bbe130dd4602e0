package pipeline

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestScope(t *testing.T) {
	type probe struct {
		db, coll string
		want     bool
	}
	tests := []struct {
		name  string
		rules map[string][]string
		dbs   map[string]bool
		colls []probe
	}{
		{
			name:  "everything",
			rules: map[string][]string{"*": {"*"}},
			dbs:   map[string]bool{"default": true, "db1": true},
			colls: []probe{{"db1", "a", true}, {"", "b", true}},
		},
		{
			name:  "collection_infos star covers only the default database",
			rules: map[string][]string{"default": {"*"}},
			dbs:   map[string]bool{"default": true, "db1": false},
			colls: []probe{{"default", "a", true}, {"", "a", true}, {"db1", "a", false}},
		},
		{
			name:  "one collection of one database",
			rules: map[string][]string{"db1": {"c1"}},
			dbs:   map[string]bool{"db1": false, "default": false},
			colls: []probe{{"db1", "c1", true}, {"db1", "c2", false}, {"default", "c1", false}},
		},
		{
			name:  "one collection name in any database",
			rules: map[string][]string{"*": {"c1"}},
			dbs:   map[string]bool{"db1": false},
			colls: []probe{{"db1", "c1", true}, {"db2", "c1", true}, {"db1", "c2", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScope(tt.rules)
			for db, want := range tt.dbs {
				require.Equal(t, want, s.Database(db), "database %s", db)
			}
			for _, p := range tt.colls {
				require.Equal(t, p.want, s.Collection(p.db, p.coll), "collection %s.%s", p.db, p.coll)
			}
		})
	}
}

func TestNameMapping(t *testing.T) {
	m := NameMapping{
		{SourceDB: "db1", TargetDB: "db1_copy"},
		{SourceDB: "default", TargetDB: "archive", Collections: map[string]string{"orders": "orders_v1"}},
	}
	tests := []struct {
		db, coll         string
		wantDB, wantColl string
	}{
		{"db1", "a", "db1_copy", "a"},
		{"default", "orders", "archive", "orders_v1"},
		{"", "orders", "archive", "orders_v1"},
		{"default", "users", "default", "users"},
		{"db2", "a", "db2", "a"},
	}
	for _, tt := range tests {
		db, coll := m.Target(tt.db, tt.coll)
		require.Equal(t, [2]string{tt.wantDB, tt.wantColl}, [2]string{db, coll}, "%s.%s", tt.db, tt.coll)
	}
	require.Equal(t, "db1_copy", m.TargetDatabase("db1"))
	require.Equal(t, "default", m.TargetDatabase("default"), "a per-collection mapping does not rename the database")
}
