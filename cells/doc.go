// Package cells makes the kvstore client a set of hive cells, so that a
// program only declares what it needs:
//
//	h := hive.New(
//		cells.Client, // or cells.All
//		cell.Invoke(func(p promise.Promise[kvstore.BackendOperations]) { ... }),
//	)
//	// flags: --kvstore=etcd --kvstore-opt=etcd.address=http://127.0.0.1:2379
//
// What each cell provides:
//
//   - Client (module "kvstore-client"): the --kvstore* flags of package config
//     and a promise.Promise[kvstore.BackendOperations], resolved once the
//     client is connected. Without --kvstore the promise is rejected with
//     kvstore.ErrNotConfigured and nothing connects.
//   - UserMgmtClient (module "global-kvstore-users-client"): a
//     promise.Promise[kvstore.BackendOperationsUserMgmt] derived from it.
//   - All: Client, UserMgmtClient, the heartbeat writer and the lock GC.
//   - ClientWithDefaults, AllWithDefaults: the same with other defaults for
//     the --kvstore* flags (e.g. the backend), as Cilium v1.16's
//     kvstore.Cell(defaultBackend); the command line still wins.
//   - ScriptCommands: kvstore/* commands for hive script tests and shells.
//
// Every cell works in a bare hive: none requires a job registry, a health
// provider or a metrics registry. Optional inputs are taken when the
// consumer's graph has them: *kvstore.ExtraOptions, logrus.FieldLogger
// (default: logrus' standard logger) and prometheus.Registerer (default: no
// metrics).
//
// Logging: hive itself logs through log/slog. NewSlogLogger, LogrusCell and
// LogrusOptions bridge hive's output and the cells' logrus.FieldLogger into
// one logrus logger, so that a program has one log format.
package cells
