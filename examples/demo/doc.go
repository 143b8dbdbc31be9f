// Command demo is a hive program built from the hivekv cells: the kvstore
// client, user management, heartbeat, lock GC and users-file sync
// (cells.All + users.Cell), plus a demo cell that exercises the client once
// it is connected and then stops the hive.
//
// Usage:
//
//	go run ./examples/demo [flags]
//
// Without flags it starts an embedded etcd in a temporary directory (no etcd
// installation needed), connects to it and runs the demo: writes and reads
// keys with and without a lease, prints the client's status, watches a
// prefix, takes a distributed lock, creates and deletes a user, removes its
// keys and exits 0. Any failure exits 1; a flag error exits 2.
//
// To use an existing etcd instead, name it the way any hivekv program does:
//
//	go run ./examples/demo --kvstore-opt etcd.address=http://127.0.0.1:2379
//	go run ./examples/demo --kvstore-opt etcd.config=/etc/etcd-client.yaml
//
// The demo touches only keys under demo/ and the user demo-user (skip the
// user step with --demo-users=false on an etcd where it may not manage
// users). --kvstore=in-memory runs it on the in-memory backend.
//
// --help lists every flag, including each --kvstore* flag of the cells.
// Results go to stdout; logs (logrus, with hive's own records bridged into
// it) go to stderr at the level of --demo-log-level.
package main
