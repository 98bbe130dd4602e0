package source

import (
	"fmt"
	"strconv"
	"strings"
)

// VChannel is a parsed virtual channel name "{pchannel}_{collectionID}v{shard}",
// e.g. "by-dev-rootcoord-dml_3_449123456789v0": shard 0 of collection
// 449123456789, carried on physical channel "by-dev-rootcoord-dml_3".
type VChannel struct {
	PChannel     string
	CollectionID int64
	Shard        int
}

// String formats the virtual channel name.
func (v VChannel) String() string {
	return fmt.Sprintf("%s_%dv%d", v.PChannel, v.CollectionID, v.Shard)
}

// ParseVChannel parses a virtual channel name. It fails, naming the input,
// when the name lacks the "_{collectionID}v{shard}" suffix or a pchannel.
func ParseVChannel(name string) (VChannel, error) {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 {
		return VChannel{}, fmt.Errorf("virtual channel %q: want {pchannel}_{collectionID}v{shard}", name)
	}
	collPart, shardPart, ok := strings.Cut(name[i+1:], "v")
	if !ok {
		return VChannel{}, fmt.Errorf("virtual channel %q: missing 'v{shard}' suffix", name)
	}
	coll, err := strconv.ParseInt(collPart, 10, 64)
	if err != nil || coll < 0 || collPart[0] == '+' {
		return VChannel{}, fmt.Errorf("virtual channel %q: bad collection ID %q", name, collPart)
	}
	shard, err := strconv.Atoi(shardPart)
	if err != nil || shard < 0 || shardPart[0] == '+' {
		return VChannel{}, fmt.Errorf("virtual channel %q: bad shard index %q", name, shardPart)
	}
	return VChannel{PChannel: name[:i], CollectionID: coll, Shard: shard}, nil
}
