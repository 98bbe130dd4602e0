// Command kafka-consumer is an example consumer of the change events
// milvus-cdc publishes in writer mode "kafka" (docs/kafka-sink.md). It keeps
// a copy of every collection in memory, applying each row change once and
// in order whatever duplicates a restart of the daemon sent, and prints the
// number of rows of each collection as it goes.
//
//	go run ./docs/examples/kafka-consumer -brokers 127.0.0.1:9092 -topic cdc
//
// It depends on franz-go and the standard library only, so it can be copied
// out of this repository as it is.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// event holds the parts of a change event this consumer reads.
type event struct {
	SchemaVersion int    `json:"schema_version"`
	Op            string `json:"op"`   // c, u, d, r: a row event
	Type          string `json:"type"` // a DDL event on the schema topic
	Source        struct {
		Collection   string  `json:"collection"`
		CollectionID int64   `json:"collection_id"`
		Partition    *string `json:"partition"`
		Ts           uint64  `json:"ts"`
		Seq          int     `json:"seq"`
	} `json:"source"`
	After     map[string]json.RawMessage `json:"after"`
	Partition string                     `json:"partition"` // of drop_partition
}

// key is an event's Kafka key.
type key struct {
	PK json.RawMessage `json:"pk"`
}

// version orders the changes of one primary key.
type version struct {
	ts  uint64
	seq int
}

func (v version) after(o version) bool { return v.ts > o.ts || (v.ts == o.ts && v.seq > o.seq) }

type row struct {
	version
	sourceTs  uint64 // source.ts, which partition drops compare
	partition string
	values    map[string]json.RawMessage // nil: deleted
}

// collection is one source collection (by ID: a name can be reused).
type collection struct {
	name    string
	dropped uint64            // ts of its drop, 0 if none
	partDrp map[string]uint64 // partition -> ts of its latest drop
	rows    map[string]*row   // by primary key (as JSON)
}

// View is the in-memory copy of every collection the events describe.
type View struct {
	colls map[int64]*collection
	// Skipped counts row events dropped as duplicates or stale.
	Skipped int
}

// NewView returns an empty view.
func NewView() *View { return &View{colls: map[int64]*collection{}} }

func (v *View) coll(id int64, name string) *collection {
	c := v.colls[id]
	if c == nil {
		c = &collection{partDrp: map[string]uint64{}, rows: map[string]*row{}}
		v.colls[id] = c
	}
	if name != "" {
		c.name = name
	}
	return c
}

// Apply applies one record: its Kafka key and value.
func (v *View) Apply(k, value []byte) error {
	var ev event
	if err := json.Unmarshal(value, &ev); err != nil {
		return err
	}
	if ev.SchemaVersion != 1 {
		return fmt.Errorf("schema_version %d: this consumer reads version 1", ev.SchemaVersion)
	}
	src := ev.Source
	c := v.coll(src.CollectionID, src.Collection)
	switch ev.Type {
	case "drop_collection":
		c.dropped = max(c.dropped, src.Ts)
		return nil
	case "drop_partition":
		c.partDrp[ev.Partition] = max(c.partDrp[ev.Partition], src.Ts)
		for pk, r := range c.rows {
			if r.partition == ev.Partition && r.sourceTs < src.Ts {
				delete(c.rows, pk)
			}
		}
		return nil
	case "":
	default:
		return nil // other DDL: nothing to do for rows
	}
	var kk key
	if err := json.Unmarshal(k, &kk); err != nil {
		return err
	}
	pk := string(kk.PK)
	ver := version{src.Ts, src.Seq}
	if ev.Op == "r" {
		// A row an initial snapshot read ranks below every change of its
		// key: the changes after a snapshot are streamed from a position
		// before it.
		ver = version{}
	}
	// A change at or below the last one applied to its key was applied
	// already (the daemon sent it again after a restart) or is older.
	if r := c.rows[pk]; r != nil && !ver.after(r.version) {
		v.Skipped++
		return nil
	}
	part := ""
	if src.Partition != nil {
		part = *src.Partition
		if d := c.partDrp[part]; d > src.Ts {
			v.Skipped++ // its partition was dropped after it
			return nil
		}
	}
	r := &row{version: ver, sourceTs: src.Ts, partition: part}
	if ev.Op != "d" {
		r.values = ev.After
	}
	c.rows[pk] = r
	return nil
}

// Counts returns the live rows of every collection not dropped, by name.
func (v *View) Counts() map[string]int {
	out := map[string]int{}
	for _, c := range v.colls {
		if c.dropped != 0 || c.name == "" {
			continue
		}
		n := 0
		for _, r := range c.rows {
			if r.values != nil {
				n++
			}
		}
		out[c.name] += n
	}
	return out
}

// Row returns a live row's values by collection name and primary key (JSON).
func (v *View) Row(collection, pk string) map[string]json.RawMessage {
	for _, c := range v.colls {
		if c.name == collection && c.dropped == 0 {
			if r := c.rows[pk]; r != nil {
				return r.values
			}
		}
	}
	return nil
}

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka brokers, comma-separated")
	topic := flag.String("topic", "cdc", "the data topic")
	schemaTopic := flag.String("schema-topic", "", "the schema topic (default: topic + \".schema\")")
	flag.Parse()
	if *schemaTopic == "" {
		*schemaTopic = *topic + ".schema"
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumeTopics(*topic, *schemaTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	view := NewView()
	last := time.Now()
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) { log.Printf("%s/%d: %v", t, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			if err := view.Apply(r.Key, r.Value); err != nil {
				log.Printf("%s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
			}
		})
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			counts := view.Counts()
			names := make([]string, 0, len(counts))
			for n := range counts {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Printf("%s: %d rows\n", n, counts[n])
			}
			fmt.Printf("(%d duplicate or stale events skipped)\n", view.Skipped)
		}
	}
}
