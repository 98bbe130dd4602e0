package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/corelib/sink"
)

// Writer publishes a pipeline's changes as change events (writer mode
// "kafka"). It is safe for concurrent use: batches of different channels
// are encoded and delivered independently over one producer.
type Writer struct {
	env         sink.Env
	cl          *kgo.Client
	cluster     string
	format      Format
	topics      topicNamer
	schemaTopic string
	maxBytes    int32
	ackWait     time.Duration
	// topicsMade are the topics this run made sure exist.
	mu         sync.Mutex
	topicsMade map[string]bool
	warned     map[string]bool
}

var _ sink.Writer = (*Writer)(nil)

// Info: a replayed batch publishes its events again.
func (w *Writer) Info() sink.Info { return sink.Info{Appends: true} }

// Apply publishes the DDL event of an operation on the schema topic and
// returns once the broker acknowledged it. A creation of a collection first
// makes its data topic exist (one topic per collection with a template).
func (w *Writer) Apply(ctx context.Context, op sink.Op) error {
	rec, err := w.ddlEvent(op)
	if err != nil {
		return err
	}
	if cc, ok := op.(*sink.CreateCollection); ok {
		if err := w.ensureTopic(ctx, w.topics.topic(cc.Coll.TargetDatabase, cc.Coll.TargetName), -1); err != nil {
			return err
		}
	}
	return w.deliver(ctx, op.Name()+" "+w.schemaTopic, []*kgo.Record{rec})
}

// Write publishes one event per row change of the batch, in order, and
// returns once the broker acknowledged every one of them.
func (w *Writer) Write(ctx context.Context, b *sink.Batch) error {
	pos, err := encodePosition(b.Position)
	if err != nil {
		return fmt.Errorf("encode the position of %s: %w", b.Channel, err)
	}
	rows := int64(0)
	for _, c := range b.Changes {
		rows += c.Rows()
	}
	enc := &batchEncoder{w: w, channel: b.Channel, position: pos, nowMs: time.Now().UnixMilli(), recs: make([]*kgo.Record, 0, rows)}
	for _, c := range b.Changes {
		if err := enc.change(c); err != nil {
			return err
		}
	}
	if len(enc.recs) == 0 {
		return nil
	}
	return w.deliver(ctx, fmt.Sprintf("Produce %s (%d events)", b.Channel, len(enc.recs)), enc.recs)
}

// Close flushes nothing (Write and Apply return only once acknowledged)
// and closes the producer.
func (w *Writer) Close() error {
	w.cl.Close()
	return nil
}

// unknownField logs, once per collection and field, a field whose type
// the writer does not know; its values are left out of the events.
func (w *Writer) unknownField(coll *sink.Collection, fd *schemapb.FieldData) {
	key := fmt.Sprintf("%d/%s", coll.ID, fd.GetFieldName())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warned[key] {
		return
	}
	w.warned[key] = true
	w.env.Log.Warn("a field of an unknown type is left out of the change events",
		zap.String("collection", coll.String()), zap.String("field", fd.GetFieldName()), zap.String("type", fd.GetType().String()))
}

// deliver produces records through Env.Call until the broker acknowledged
// every one. An attempt produces the records not yet acknowledged, in
// order, and waits for them; a record that failed is produced again by the
// next attempt, one the producer still holds (it sent it and awaits the
// answer) is waited for again rather than produced twice. Because the
// producer fails every buffered record of a partition when one fails, the
// records that failed are a suffix of each partition's records, and
// producing them again keeps each partition in order.
func (w *Writer) deliver(ctx context.Context, op string, recs []*kgo.Record) error {
	d := &delivery{recs: recs, state: make([]uint8, len(recs)), results: make(chan result, len(recs))}
	return w.env.Call(ctx, op, func(ctx context.Context) error { return d.attempt(ctx, w) })
}

// Record states within a delivery.
const (
	toSend uint8 = iota
	inFlight
	acked
)

type result struct {
	i   int
	err error
}

type delivery struct {
	recs     []*kgo.Record
	state    []uint8
	inFlight int
	// results gets one result per produce; it holds as many as there are
	// records, so a promise never blocks, even after Write returned.
	results chan result
}

func (d *delivery) attempt(ctx context.Context, w *Writer) error {
	for i, st := range d.state {
		if st != toSend {
			continue
		}
		d.state[i] = inFlight
		d.inFlight++
		idx := i
		// The producer's delivery timeout counts from the record's
		// timestamp: a record produced again starts afresh.
		d.recs[i].Timestamp = time.Now()
		w.cl.Produce(ctx, d.recs[i], func(_ *kgo.Record, err error) { d.results <- result{idx, err} })
	}
	timer := time.NewTimer(w.ackWait)
	defer timer.Stop()
	var first error
	var firstRec *kgo.Record
	failed := 0
	for d.inFlight > 0 {
		select {
		case r := <-d.results:
			d.inFlight--
			if r.err == nil {
				d.state[r.i] = acked
				continue
			}
			d.state[r.i] = toSend
			failed++
			if first == nil {
				first, firstRec = r.err, d.recs[r.i]
			}
		case <-timer.C:
			return &sink.TargetError{Op: "Produce", Retryable: true,
				Reason: fmt.Sprintf("the broker has not acknowledged %d of %d events within %s", d.inFlight, len(d.recs), w.ackWait)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if first != nil {
		return classify(first, firstRec, failed, len(d.recs), w.maxBytes)
	}
	for i := range d.recs {
		d.recs[i] = nil // acknowledged: let the events go
	}
	return nil
}
