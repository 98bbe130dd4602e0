package milvus

import (
	"testing"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink/sinktest"
)

// TestWritersConform runs the writer conformance suite against an
// in-process Milvus in each mode.
func TestWritersConform(t *testing.T) {
	t.Run("api", func(t *testing.T) {
		m := startMemMilvus(t, false)
		sinktest.Run(t, "conf", &memTarget{m: m, factory: &APIFactory{DialOptions: dialOf(m)}})
	})
	t.Run("replicate", func(t *testing.T) {
		m := startMemMilvus(t, true)
		sinktest.Run(t, "conf", &memTarget{m: m, factory: &ReplicaFactory{DialOptions: dialOf(m)}})
	})
}
