package cells

import (
	"github.com/cilium/hive/cell"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/heartbeat"
	"github.com/hivekv/kvstore/lockgc"
	"github.com/hivekv/kvstore/promise"
)

// ClientWithDefaults is Client with the flags' defaults taken from def:
// how a program picks its backend (and any other --kvstore* default)
// without touching its FlagSet, as Cilium v1.16's kvstore.Cell(defaultBackend)
// does. A field left at its zero value keeps config.DefaultConfig's.
// Command-line flags still win:
//
//	cells.ClientWithDefaults(config.Config{
//		KVStore:    kvstore.EtcdBackendName,
//		KVStoreOpt: map[string]string{kvstore.EtcdAddrOption: "http://127.0.0.1:2379"},
//	})
//
// Use it instead of Client (AllWithDefaults instead of All), never beside
// it: a hive refuses two modules that register the same flags. To force a
// value whatever the command line says, use hive.AddConfigOverride with a
// func(*config.Config) instead.
func ClientWithDefaults(def config.Config) cell.Cell {
	return cell.Module(
		clientModuleID,
		"KVStore Client",

		cell.Config(withDefaults(def)),
		cell.Provide(newClientPromise),
		cell.Invoke(checkClientConfig),
	)
}

// AllWithDefaults is All with ClientWithDefaults(def) in place of Client.
func AllWithDefaults(def config.Config) cell.Cell {
	return cell.Group(
		ClientWithDefaults(def),
		UserMgmtClient,
		heartbeat.Cell,
		lockgc.Cell,
	)
}

// withDefaults fills the zero fields of def from config.DefaultConfig. Zero
// is never a useful default: an empty backend is the default, an empty
// option map adds nothing, and every duration or count must be positive.
func withDefaults(def config.Config) config.Config {
	d := config.DefaultConfig
	if def.KVStore != "" {
		d.KVStore = def.KVStore
	}
	if len(def.KVStoreOpt) > 0 {
		d.KVStoreOpt = def.KVStoreOpt
	}
	if def.KVStoreConnectivityTimeout != 0 {
		d.KVStoreConnectivityTimeout = def.KVStoreConnectivityTimeout
	}
	if def.KVStoreLeaseTTL != 0 {
		d.KVStoreLeaseTTL = def.KVStoreLeaseTTL
	}
	if def.KVStorePeriodicSync != 0 {
		d.KVStorePeriodicSync = def.KVStorePeriodicSync
	}
	if def.KVStoreMaxConsecutiveQuorumErrors != 0 {
		d.KVStoreMaxConsecutiveQuorumErrors = def.KVStoreMaxConsecutiveQuorumErrors
	}
	return d
}

// checkClientConfig builds the client promise from the client's own module,
// which validates the configuration. Without it, the first consumer to ask
// for the promise (the heartbeat cell, say) would build it, and hive would
// report a typo in --kvstore-opt as that consumer's failure. It runs first
// as long as the client's cells come first in hive.New (All does).
func checkClientConfig(promise.Promise[kvstore.BackendOperations]) {}
