// Package source reads changes from a source Milvus (2.3.x-2.5.x): its
// rootcoord metadata from etcd (MetaReader), the messages on its DML and
// replicate channels (DecodeMessage), grouped into time-tick packs per
// physical channel (TickGrouper, SeekFilter), plus the small codecs the rest
// of the pipeline needs (virtual channel names, hybrid timestamps, MQ
// message IDs). It never writes to the source.
//
// The MQ transports that deliver raw payloads live in the mq subpackage; the
// etcd metadata protos live in metapb.
package source
