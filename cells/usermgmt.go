package cells

import (
	"github.com/cilium/hive/cell"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/promise"
)

// UserMgmtClient provides a promise.Promise[kvstore.BackendOperationsUserMgmt]
// for cells that manage etcd users (such as package users) and should not
// see the rest of the client. It settles with the Client cell's promise: the
// same client once connected, or the same error.
var UserMgmtClient = cell.Module(
	"global-kvstore-users-client",
	"KVStore user management client",

	cell.Provide(newUserMgmtPromise),
)

func newUserMgmtPromise(p promise.Promise[kvstore.BackendOperations]) promise.Promise[kvstore.BackendOperationsUserMgmt] {
	return promise.Map(p, func(b kvstore.BackendOperations) kvstore.BackendOperationsUserMgmt { return b })
}
