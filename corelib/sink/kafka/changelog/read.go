package changelog

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ReadAll reads every record of topics from the start of each partition to
// its end when ReadAll began, calling fn in partition order (the order of
// the records of one partition, which is the order of one key's changes).
// Topics that do not exist read as empty. opts connect the client
// (kgo.SeedBrokers and any security options).
func ReadAll(ctx context.Context, opts []kgo.Opt, topics []string, fn func(*kgo.Record) error) error {
	admin, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	ends, err := endOffsets(ctx, admin, topics)
	admin.Close()
	if err != nil || len(ends) == 0 {
		return err
	}
	assign := map[string]map[int32]kgo.Offset{}
	for tp := range ends {
		if assign[tp.topic] == nil {
			assign[tp.topic] = map[int32]kgo.Offset{}
		}
		assign[tp.topic][tp.partition] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...), kgo.ConsumePartitions(assign))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	left := len(ends)
	for left > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fetches.EachError(func(topic string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("read %s/%d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var ferr2 error
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			end, ok := ends[tp]
			if !ok {
				return
			}
			for _, r := range p.Records {
				if r.Offset >= end {
					break
				}
				if ferr2 == nil {
					ferr2 = fn(r)
				}
				if r.Offset == end-1 {
					delete(ends, tp)
					left--
				}
			}
		})
		if ferr2 != nil {
			return ferr2
		}
	}
	return nil
}

type topicPartition struct {
	topic     string
	partition int32
}

// endOffsets returns the end offset of every non-empty partition of topics.
func endOffsets(ctx context.Context, cl *kgo.Client, topics []string) (map[topicPartition]int64, error) {
	meta := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(t)
		meta.Topics = append(meta.Topics, mt)
	}
	mresp, err := meta.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata of %v: %w", topics, err)
	}
	list := kmsg.NewPtrListOffsetsRequest()
	for _, t := range mresp.Topics {
		if kerr.ErrorForCode(t.ErrorCode) != nil || t.Topic == nil {
			continue // absent: nothing to read
		}
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = *t.Topic
		for _, p := range t.Partitions {
			lp := kmsg.NewListOffsetsRequestTopicPartition()
			lp.Partition = p.Partition
			lp.Timestamp = -1 // the end
			lt.Partitions = append(lt.Partitions, lp)
		}
		list.Topics = append(list.Topics, lt)
	}
	ends := map[topicPartition]int64{}
	if len(list.Topics) == 0 {
		return ends, nil
	}
	shards := cl.RequestSharded(ctx, list)
	for _, sh := range shards {
		if sh.Err != nil {
			return nil, fmt.Errorf("end offsets of %v: %w", topics, sh.Err)
		}
		resp := sh.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return nil, fmt.Errorf("end offset of %s/%d: %w", t.Topic, p.Partition, err)
				}
				if p.Offset > 0 {
					ends[topicPartition{t.Topic, p.Partition}] = p.Offset
				}
			}
		}
	}
	return ends, nil
}

// Rebuild applies every event of topics (as ReadAll reads them) to a new
// State.
func Rebuild(ctx context.Context, opts []kgo.Opt, topics []string) (*State, error) {
	st := &State{}
	err := ReadAll(ctx, opts, topics, func(r *kgo.Record) error {
		ev, err := Decode(r.Value)
		if err != nil {
			return fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		key, err := DecodeKey(r.Key)
		if err != nil {
			return fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		return st.Apply(ev, key)
	})
	return st, err
}
