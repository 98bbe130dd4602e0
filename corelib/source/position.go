package source

import (
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"google.golang.org/protobuf/proto"
)

// EncodePosition serializes a position the way Milvus and milvus-cdc store
// positions: a msgpb.MsgPosition.
func EncodePosition(pos Position) ([]byte, error) {
	return proto.Marshal(&msgpb.MsgPosition{ChannelName: pos.Channel, MsgID: pos.MsgID, Timestamp: pos.Timestamp})
}

// DecodePosition reads a serialized msgpb.MsgPosition. A position that
// names no channel gets channel.
func DecodePosition(raw []byte, channel string) (Position, error) {
	mp := &msgpb.MsgPosition{}
	if err := proto.Unmarshal(raw, mp); err != nil {
		return Position{}, fmt.Errorf("position of %s: %w", channel, err)
	}
	pos := Position{Channel: mp.GetChannelName(), MsgID: mp.GetMsgID(), Timestamp: mp.GetTimestamp()}
	if pos.Channel == "" {
		pos.Channel = channel
	}
	return pos, nil
}
