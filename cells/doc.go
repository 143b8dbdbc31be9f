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
// consumer's graph has them: *kvstore.ExtraOptions, prometheus.Registerer
// (default: no metrics), job.Registry (job.Cell: the cells' background work
// runs as jobs of a job.Group), cell.Health (cell.SimpleHealthCell or
// Cilium's: each module reports into a scope named after its module ID)
// and logrus.FieldLogger (see Logging). See docs/health.md.
//
// Logging: hive logs through log/slog, the cells through logrus. By
// default the cells' logrus loggers forward every entry into the hive's
// *slog.Logger (the module's, with its module attribute), so the program
// has the hive's one format. A program that wants logrus' format instead
// provides its logrus logger with LogrusCell and LogrusOptions and runs
// the hive with NewSlogLogger: hive's own records then go to logrus.
package cells
