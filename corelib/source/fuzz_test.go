package source

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/milvus-cdc/milvus-cdc/corelib/source/metapb"
)

// Catalog values come from the network: any key and value must decode or
// be rejected with an error, never panic, and views must stay buildable.
func FuzzCatalogApply(f *testing.F) {
	info, _ := proto.Marshal(&metapb.CollectionInfo{ID: 5, Schema: schemaBytes("c"), State: metapb.CollectionState_CollectionCreated})
	f.Add("root-coord/database/collection-info/1/5", info)
	f.Add("root-coord/collection/5", info)
	f.Add("root-coord/partitions/5/6", []byte{0x08, 0x06})
	f.Add("root-coord/fields/5/100", []byte{0x08, 0x64, 0x12, 0x02, 'p', 'k'})
	f.Add("root-coord/database/db-info/1", []byte(tombstone))
	f.Add("snapshots/root-coord/collection/5_ts1", info)
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		c := newCatalog()
		k := parseCatalogKey(key)
		_ = c.apply(k, value, false)
		s := c.snapshot(1)
		for id, coll := range s.Collections {
			require.Equal(t, id, coll.ID)
			require.NotNil(t, coll.Schema)
			for _, fld := range coll.Schema.GetFields() {
				require.GreaterOrEqual(t, fld.GetFieldID(), int64(startOfUserFieldID))
			}
		}
		_ = c.apply(k, value, true)
	})
}

func FuzzParseVChannel(f *testing.F) {
	f.Add("by-dev-rootcoord-dml_3_449123456789v0")
	f.Add("a_1v1")
	f.Fuzz(func(t *testing.T, name string) {
		v, err := ParseVChannel(name)
		if err != nil {
			return
		}
		again, err := ParseVChannel(v.String())
		require.NoError(t, err)
		require.Equal(t, v, again)
		require.Equal(t, name[:strings.LastIndexByte(name, '_')], v.PChannel)
	})
}
