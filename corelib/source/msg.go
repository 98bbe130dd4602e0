package source

import (
	"errors"
	"fmt"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/milvuspb"
	"github.com/milvus-io/milvus-proto/go-api/v2/msgpb"
	"google.golang.org/protobuf/proto"
)

// ErrMalformedMessage is wrapped by DecodeMessage errors: the payload is not
// a Milvus message-stream message (not protobuf, or no MsgBase at field 1),
// or its body does not decode as the type its header names.
var ErrMalformedMessage = errors.New("malformed message")

// Message is one decoded message-stream payload (one MQ message).
type Message struct {
	// Type is Base.MsgType as read from the header.
	Type commonpb.MsgType
	// Body is the concrete go-api request for Type (*msgpb.InsertRequest,
	// *milvuspb.CreateIndexRequest, ...); nil when the type is unsupported.
	Body proto.Message
	// BeginTs and EndTs as Milvus computes them: min and max of the per-row
	// timestamps for Insert/Delete; for other messages both are
	// Base.Timestamp, or ReplicateInfo.MsgTimestamp for a replicate-channel
	// request that is itself replicated.
	BeginTs, EndTs uint64
	// Raw is the payload exactly as received, for verbatim forwarding.
	Raw []byte

	base *commonpb.MsgBase
}

// Supported reports whether Body was decoded. Callers count and skip
// unsupported messages; they are never an error.
func (m *Message) Supported() bool { return m.Body != nil }

// Base returns the message's MsgBase (never nil for a decoded message).
func (m *Message) Base() *commonpb.MsgBase { return m.base }

// MsgID is Base.MsgID, the request ID Milvus de-duplicates DML by.
func (m *Message) MsgID() int64 { return m.base.GetMsgID() }

// IsReplicate reports whether the message was written by a replicator
// (Base.ReplicateInfo.IsReplicate); a CDC skips these to avoid echoes.
func (m *Message) IsReplicate() bool { return m.base.GetReplicateInfo().GetIsReplicate() }

// ReplicateID is Base.ReplicateInfo.ReplicateID (Milvus 2.4.18+/2.5).
func (m *Message) ReplicateID() string { return m.base.GetReplicateInfo().GetReplicateID() }

// IsDML reports whether the message is an Insert or a Delete.
func (m *Message) IsDML() bool {
	return m.Type == commonpb.MsgType_Insert || m.Type == commonpb.MsgType_Delete
}

// ShardName is the virtual channel of an Insert or Delete, "" otherwise.
func (m *Message) ShardName() string {
	if s, ok := m.Body.(interface{ GetShardName() string }); ok {
		return s.GetShardName()
	}
	return ""
}

// CollectionID is the collection a DML-channel message is about (Insert,
// Delete, Create/DropCollection, Create/DropPartition, Import), 0 otherwise.
func (m *Message) CollectionID() int64 {
	if c, ok := m.Body.(interface{ GetCollectionID() int64 }); ok {
		return c.GetCollectionID()
	}
	return 0
}

// DecodeMessage reads the MsgHeader of a payload, then decodes the body as
// the go-api type for its MsgType. Unknown types give a Message with
// Supported() == false and no error. A malformed payload gives an error
// wrapping ErrMalformedMessage; it never panics.
func DecodeMessage(payload []byte) (*Message, error) {
	header := &commonpb.MsgHeader{}
	// DiscardUnknown: MsgHeader declares only field 1, so a plain Unmarshal
	// would copy the rest of the payload (all rows of an insert) into the
	// header's unknown fields just to throw it away.
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(payload, header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformedMessage, err)
	}
	base := header.GetBase()
	if base == nil {
		return nil, fmt.Errorf("%w: no MsgBase at field 1", ErrMalformedMessage)
	}
	m := &Message{Type: base.GetMsgType(), Raw: payload, base: base}
	body := newBody(m.Type)
	if body == nil {
		m.BeginTs, m.EndTs = base.GetTimestamp(), base.GetTimestamp()
		return m, nil
	}
	if err := proto.Unmarshal(payload, body); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformedMessage, m.Type, err)
	}
	m.Body = body
	m.BeginTs, m.EndTs = messageTimes(m.Type, body, base)
	return m, nil
}

// messageTimes computes begin/end timestamps the way Milvus's msgstream does.
func messageTimes(t commonpb.MsgType, body proto.Message, base *commonpb.MsgBase) (uint64, uint64) {
	if rows, ok := body.(interface{ GetTimestamps() []uint64 }); ok && len(rows.GetTimestamps()) > 0 {
		lo, hi := rows.GetTimestamps()[0], rows.GetTimestamps()[0]
		for _, ts := range rows.GetTimestamps()[1:] {
			lo, hi = min(lo, ts), max(hi, ts)
		}
		return lo, hi
	}
	ts := base.GetTimestamp()
	if onReplicateChannel(t) && base.GetReplicateInfo().GetIsReplicate() {
		ts = base.GetReplicateInfo().GetMsgTimestamp()
	}
	return ts, ts
}

// onReplicateChannel reports whether t travels on the replicate-msg channel
// (milvuspb requests written by the proxy) rather than a DML channel.
func onReplicateChannel(t commonpb.MsgType) bool {
	switch t {
	case commonpb.MsgType_Insert, commonpb.MsgType_Delete, commonpb.MsgType_TimeTick,
		commonpb.MsgType_CreateCollection, commonpb.MsgType_DropCollection,
		commonpb.MsgType_CreatePartition, commonpb.MsgType_DropPartition,
		commonpb.MsgType_DataNodeTt, commonpb.MsgType_Import, commonpb.MsgType_Replicate:
		return false
	}
	return true
}

// newBody returns an empty go-api message for a MsgType that can appear on a
// 2.3-2.5 DML or replicate channel, nil for any other type.
func newBody(t commonpb.MsgType) proto.Message {
	switch t {
	// DML channels (msgpb).
	case commonpb.MsgType_Insert:
		return &msgpb.InsertRequest{}
	case commonpb.MsgType_Delete:
		return &msgpb.DeleteRequest{}
	case commonpb.MsgType_TimeTick:
		return &msgpb.TimeTickMsg{}
	case commonpb.MsgType_CreateCollection:
		return &msgpb.CreateCollectionRequest{}
	case commonpb.MsgType_DropCollection:
		return &msgpb.DropCollectionRequest{}
	case commonpb.MsgType_CreatePartition:
		return &msgpb.CreatePartitionRequest{}
	case commonpb.MsgType_DropPartition:
		return &msgpb.DropPartitionRequest{}
	case commonpb.MsgType_DataNodeTt:
		return &msgpb.DataNodeTtMsg{}
	case commonpb.MsgType_Import:
		return &msgpb.ImportMsg{}
	case commonpb.MsgType_Replicate:
		return &msgpb.ReplicateMsg{}
	// Replicate channel (milvuspb requests as the proxy received them).
	case commonpb.MsgType_CreateDatabase:
		return &milvuspb.CreateDatabaseRequest{}
	case commonpb.MsgType_DropDatabase:
		return &milvuspb.DropDatabaseRequest{}
	case commonpb.MsgType_AlterDatabase:
		return &milvuspb.AlterDatabaseRequest{}
	case commonpb.MsgType_Flush:
		return &milvuspb.FlushRequest{}
	case commonpb.MsgType_CreateIndex:
		return &milvuspb.CreateIndexRequest{}
	case commonpb.MsgType_DropIndex:
		return &milvuspb.DropIndexRequest{}
	case commonpb.MsgType_AlterIndex:
		return &milvuspb.AlterIndexRequest{}
	case commonpb.MsgType_LoadCollection:
		return &milvuspb.LoadCollectionRequest{}
	case commonpb.MsgType_ReleaseCollection:
		return &milvuspb.ReleaseCollectionRequest{}
	case commonpb.MsgType_LoadPartitions:
		return &milvuspb.LoadPartitionsRequest{}
	case commonpb.MsgType_ReleasePartitions:
		return &milvuspb.ReleasePartitionsRequest{}
	case commonpb.MsgType_CreateCredential:
		return &milvuspb.CreateCredentialRequest{}
	case commonpb.MsgType_UpdateCredential:
		return &milvuspb.UpdateCredentialRequest{}
	case commonpb.MsgType_DeleteCredential:
		return &milvuspb.DeleteCredentialRequest{}
	case commonpb.MsgType_CreateRole:
		return &milvuspb.CreateRoleRequest{}
	case commonpb.MsgType_DropRole:
		return &milvuspb.DropRoleRequest{}
	case commonpb.MsgType_OperateUserRole:
		return &milvuspb.OperateUserRoleRequest{}
	case commonpb.MsgType_OperatePrivilege:
		return &milvuspb.OperatePrivilegeRequest{}
	case commonpb.MsgType_OperatePrivilegeV2:
		return &milvuspb.OperatePrivilegeV2Request{}
	case commonpb.MsgType_CreatePrivilegeGroup:
		return &milvuspb.CreatePrivilegeGroupRequest{}
	case commonpb.MsgType_DropPrivilegeGroup:
		return &milvuspb.DropPrivilegeGroupRequest{}
	case commonpb.MsgType_OperatePrivilegeGroup:
		return &milvuspb.OperatePrivilegeGroupRequest{}
	case commonpb.MsgType_CreateAlias:
		return &milvuspb.CreateAliasRequest{}
	case commonpb.MsgType_DropAlias:
		return &milvuspb.DropAliasRequest{}
	case commonpb.MsgType_AlterAlias:
		return &milvuspb.AlterAliasRequest{}
	case commonpb.MsgType_AlterCollection:
		return &milvuspb.AlterCollectionRequest{}
	case commonpb.MsgType_AlterCollectionField:
		return &milvuspb.AlterCollectionFieldRequest{}
	case commonpb.MsgType_RenameCollection:
		return &milvuspb.RenameCollectionRequest{}
	}
	return nil
}
