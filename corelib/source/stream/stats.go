package stream

import (
	"sync"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
)

// Stats counts what a reader skipped. Safe for concurrent use.
type Stats struct {
	mu          sync.Mutex
	malformed   int64
	replicated  int64
	unsupported map[commonpb.MsgType]int64
}

// StatsSnapshot is a copy of the counters.
type StatsSnapshot struct {
	Malformed   int64                      // payloads that are not Milvus messages
	Replicated  int64                      // messages written by a replicator
	Unsupported map[commonpb.MsgType]int64 // by message type
}

func (s *Stats) addMalformed() {
	s.mu.Lock()
	s.malformed++
	s.mu.Unlock()
}

func (s *Stats) addReplicated() {
	s.mu.Lock()
	s.replicated++
	s.mu.Unlock()
}

func (s *Stats) addUnsupported(t commonpb.MsgType) {
	s.mu.Lock()
	if s.unsupported == nil {
		s.unsupported = map[commonpb.MsgType]int64{}
	}
	s.unsupported[t]++
	s.mu.Unlock()
}

// Snapshot returns the current counters.
func (s *Stats) Snapshot() StatsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := StatsSnapshot{Malformed: s.malformed, Replicated: s.replicated, Unsupported: map[commonpb.MsgType]int64{}}
	for t, n := range s.unsupported {
		out.Unsupported[t] = n
	}
	return out
}
