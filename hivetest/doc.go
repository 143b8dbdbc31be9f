// Package hivetest runs real etcd members inside the current process for
// tests and demos.
//
// The kvstore code talks to etcd through clientv3, and the only faithful way
// to exercise watches, leases, compaction, auth and TLS is against a real
// server. Spawning an etcd binary would make tests depend on the machine, so
// this package embeds go.etcd.io/etcd/server/v3/embed instead: a member starts
// in about a second on loopback ports, keeps its data in a temporary
// directory, and can be stopped, killed and restarted on the same ports and
// data to inject faults.
//
// What it offers:
//
//   - StartServer / NewServer: one member, optionally with TLS (WithTLS) and
//     authentication (WithAuth).
//   - StartCluster: several members with fast election timing, for leader
//     loss and quorum tests.
//   - RunWithSharedServer / SharedServer / UniquePrefix: one server shared by
//     a whole test package, with tests isolated by key prefix.
//   - GenerateCerts: a throw-away CA with server and client certificates.
//   - WriteClientConfigFile: a clientv3 YAML config file pointing at a server;
//     Server.KVStoreOptions: the --kvstore-opt map that reaches it.
//   - SetupDummy / SetupDummyWithConfigOpts: a fresh global kvstore client.
//   - RunScripts / ScriptSuite: a package's txtar hive scripts, each on a
//     hive of its own against the shared server; TestLogWriter.
//
// The backend conformance suite is in the subpackage hivetest/conformance,
// the fault suite in hivetest/faults.
//
// Production binaries must never import this package: it links the whole etcd
// server and writes data without fsync. Only tests and the demo binary use it.
package hivetest
