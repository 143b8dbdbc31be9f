// Package heartbeat keeps kvstore.HeartbeatPath fresh so that every client
// of the store can tell a live store from a stale one.
//
// The writer side is the Cell (hive module "kvstore-heartbeat-updater"),
// run by one component per store (in Cilium: the operator or the
// clustermesh-apiserver): once the kvstore client promise resolves, it writes
// the current time (RFC 3339) to kvstore.HeartbeatPath every
// --kvstore-heartbeat-interval (default kvstore.HeartbeatWriteInterval),
// attached to the client's lease, until the hive stops.
//
// The reader side lives in the etcd client (package client/etcd): it watches the
// key and fails its Status when the last update it saw, measured on its own
// clock, is older than twice the interval. Only the arrival of updates
// matters, never the timestamp written, so no clock synchronisation between
// writer and readers is assumed.
package heartbeat
