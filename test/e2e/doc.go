//go:build e2e

// Package e2e holds the end-to-end tests and their helpers: they run against the
// real test bed that `make testbed-up` starts (deployments/testbed) and reads from
// .testbed/env.
//
// The helpers are meant for every replication test, not only the bed self-tests:
//
//   - LoadBed / RequireBed: the addresses of the bed (source and target Milvus,
//     etcd, broker, channels);
//   - ConnectSource / ConnectTarget: milvus-sdk-go clients;
//   - AllTypesSchema, NewDataset, Dataset.Insert: a collection with every data type
//     Milvus 2.3 supports and deterministic rows;
//   - Eventually: wait with a deadline for a condition (e.g. on the target);
//   - CompareCollections: schema, row count and every field value by primary key;
//   - NewChannelReader, DecodeHeader: read the source's Pulsar/Kafka channels.
//
// Everything here is behind the `e2e` build tag: `go test -tags e2e ./test/e2e/...`.
package e2e
