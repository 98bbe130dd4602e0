package source

import (
	"strconv"
	"strings"
)

// Key layout of the rootcoord catalog, relative to {rootPath}/{metaSubPath}/.
// Snapshot history lives under "snapshots/" and is never read here.
const (
	rootCoordPrefix        = "root-coord/"
	dbInfoPrefix           = "root-coord/database/db-info/"
	collectionInfoPrefix   = "root-coord/database/collection-info/"
	legacyCollectionPrefix = "root-coord/collection/"
	partitionPrefix        = "root-coord/partitions/"
	fieldPrefix            = "root-coord/fields/"
	functionPrefix         = "root-coord/functions/"
	snapshotPrefix         = "snapshots/"
)

// listedPrefixes are the catalog prefixes MetaReader lists on (re)start.
func listedPrefixes() []string {
	return []string{
		dbInfoPrefix, collectionInfoPrefix, legacyCollectionPrefix,
		partitionPrefix, fieldPrefix, functionPrefix,
	}
}

// tombstone is SuffixSnapshot's deletion marker, bytes E2 9B BC ("⛼"):
// Milvus deletes a catalog key by PUTting this value, not by an etcd DELETE.
const tombstone = "\xe2\x9b\xbc"

// isTombstone reports whether an etcd value marks a deleted catalog key.
func isTombstone(v []byte) bool { return string(v) == tombstone }

// defaultDBID is the ID Milvus gives the "default" database; collections
// stored under the legacy (pre-database) key belong to it.
const defaultDBID int64 = 1

type keyKind int

const (
	keyUnknown keyKind = iota
	keyDatabase
	keyCollection
	keyPartition
	keyField
	keyFunction
)

// catalogKey is a parsed rootcoord catalog key.
type catalogKey struct {
	kind         keyKind
	dbID         int64 // keyDatabase, keyCollection
	collectionID int64 // keyCollection, keyPartition, keyField, keyFunction
	childID      int64 // partition, field or function ID
	legacy       bool  // collection stored under root-coord/collection/
}

// parseCatalogKey parses a key relative to the meta root. Keys it does not
// need (aliases, credentials, snapshots, malformed IDs) give keyUnknown.
func parseCatalogKey(rel string) catalogKey {
	if strings.HasPrefix(rel, snapshotPrefix) {
		return catalogKey{}
	}
	switch {
	case strings.HasPrefix(rel, dbInfoPrefix):
		if ids, ok := parseIDs(rel[len(dbInfoPrefix):], 1); ok {
			return catalogKey{kind: keyDatabase, dbID: ids[0]}
		}
	case strings.HasPrefix(rel, collectionInfoPrefix):
		if ids, ok := parseIDs(rel[len(collectionInfoPrefix):], 2); ok {
			return catalogKey{kind: keyCollection, dbID: ids[0], collectionID: ids[1]}
		}
	case strings.HasPrefix(rel, legacyCollectionPrefix):
		if ids, ok := parseIDs(rel[len(legacyCollectionPrefix):], 1); ok {
			return catalogKey{kind: keyCollection, dbID: defaultDBID, collectionID: ids[0], legacy: true}
		}
	case strings.HasPrefix(rel, partitionPrefix):
		if ids, ok := parseIDs(rel[len(partitionPrefix):], 2); ok {
			return catalogKey{kind: keyPartition, collectionID: ids[0], childID: ids[1]}
		}
	case strings.HasPrefix(rel, fieldPrefix):
		if ids, ok := parseIDs(rel[len(fieldPrefix):], 2); ok {
			return catalogKey{kind: keyField, collectionID: ids[0], childID: ids[1]}
		}
	case strings.HasPrefix(rel, functionPrefix):
		if ids, ok := parseIDs(rel[len(functionPrefix):], 2); ok {
			return catalogKey{kind: keyFunction, collectionID: ids[0], childID: ids[1]}
		}
	}
	return catalogKey{}
}

// parseIDs splits s on "/" into exactly n decimal int64s.
func parseIDs(s string, n int) ([]int64, bool) {
	parts := strings.Split(s, "/")
	if len(parts) != n {
		return nil, false
	}
	ids := make([]int64, n)
	for i, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, false
		}
		ids[i] = id
	}
	return ids, true
}
