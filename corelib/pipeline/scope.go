package pipeline

import "github.com/milvus-cdc/milvus-cdc/corelib"

// DefaultDatabase is the database Milvus puts collections in when none is named.
const DefaultDatabase = "default"

// Scope says which source databases and collections a task replicates. It
// keeps the milvus-cdc meaning of its two request forms:
//   - collection_infos [{"name": "*"}] covers every collection of the
//     "default" database only; [{"name": "c"}] covers collection c there;
//   - db_collections {"<db>" or "*": [{"name": "<coll>" or "*"}]} names the
//     database(s) explicitly, so {"*": [{"name": "*"}]} covers everything.
type Scope struct {
	// rules maps a database name (or "*") to the collection names (or "*")
	// covered in it.
	rules map[string][]string
	// exclude lists "db.collection" names inside the rules that another task
	// on the same target replicates.
	exclude map[string]bool
}

// NewScope builds a Scope from database → collection-name rules, as given
// in db_collections; collection_infos is the rule set {"default": names}.
func NewScope(rules map[string][]string) Scope {
	return Scope{rules: rules}
}

// Database reports whether operations on the database itself (create, drop)
// are replicated: the task covers the database as a whole.
func (s Scope) Database(db string) bool {
	for ruleDB, colls := range s.rules {
		if ruleDB != "*" && ruleDB != db {
			continue
		}
		for _, c := range colls {
			if c == "*" {
				return true
			}
		}
	}
	return false
}

// Collection reports whether the collection is replicated.
func (s Scope) Collection(db, coll string) bool {
	if db == "" {
		db = DefaultDatabase
	}
	if s.exclude[db+"."+coll] {
		return false
	}
	for ruleDB, colls := range s.rules {
		if ruleDB != "*" && ruleDB != db {
			continue
		}
		for _, c := range colls {
			if c == "*" || c == coll {
				return true
			}
		}
	}
	return false
}

// NameMapping renames databases and collections on the target.
type NameMapping []DatabaseMapping

// DatabaseMapping maps one source database. With no collection entries the
// whole database is renamed and its collections keep their names; with
// entries, only the listed collections are renamed.
type DatabaseMapping struct {
	SourceDB    string
	TargetDB    string
	Collections map[string]string // source name → target name
}

// Target returns the target database and collection names for a source
// collection. Unmapped names pass through unchanged.
func (m NameMapping) Target(db, coll string) (string, string) {
	if db == "" {
		db = DefaultDatabase
	}
	for _, dm := range m {
		if dm.SourceDB != db {
			continue
		}
		targetDB := dm.TargetDB
		if targetDB == "" {
			targetDB = db
		}
		if len(dm.Collections) == 0 {
			return targetDB, coll
		}
		if to, ok := dm.Collections[coll]; ok {
			return targetDB, to
		}
		return db, coll
	}
	return db, coll
}

// TargetDatabase returns the target name of a source database. A database is
// renamed only by a mapping that renames it as a whole.
func (m NameMapping) TargetDatabase(db string) string {
	for _, dm := range m {
		if dm.SourceDB == db && len(dm.Collections) == 0 && dm.TargetDB != "" {
			return dm.TargetDB
		}
	}
	return db
}

// scopeOf builds the Scope of a task.
func scopeOf(spec corelib.TaskSpec) Scope {
	rules := map[string][]string{}
	for _, cs := range spec.Scope {
		db := cs.Database
		if db == "" {
			db = DefaultDatabase
		}
		rules[db] = append(rules[db], cs.Collection)
	}
	s := NewScope(rules)
	if len(spec.Exclude) > 0 {
		s.exclude = map[string]bool{}
		for _, name := range spec.Exclude {
			s.exclude[name] = true
		}
	}
	return s
}

// mappingOf builds the NameMapping of a task.
func mappingOf(spec corelib.TaskSpec) NameMapping {
	var m NameMapping
	for _, nm := range spec.NameMapping {
		m = append(m, DatabaseMapping{SourceDB: nm.SourceDatabase, TargetDB: nm.TargetDatabase, Collections: nm.Collections})
	}
	return m
}
