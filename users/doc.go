// Package users keeps the users of an etcd in line with a users file.
//
// The file (path from --kvstore-users-file) is a YAML list of users, each
// with the roles it must have:
//
//	# users.yaml
//	- name: remote
//	  roles: [remote]
//	- name: local-cluster1
//	  roles: [local, heartbeat-reader]
//
// Cilium's clustermesh form, a "users:" key holding the list with a single
// "role" per user, is accepted too.
//
// What Cell does, once the kvstore client is connected and then every
// --kvstore-users-sync-interval when the file's content changed:
//
//   - every listed user is created if missing (without a password: users
//     authenticate with client certificates whose common name is the user
//     name) and granted its roles;
//   - every user this cell enforced earlier and that has left the file is
//     deleted;
//   - a user whose roles shrank keeps the roles it still has and loses the
//     others (granted first, revoked after, through kvstore.UserRoleRevoker;
//     with a backend that lacks it, the user is deleted and created again and
//     is briefly absent).
//
// The set of users the cell manages is stored in etcd, in the key given by
// --kvstore-users-state-key (default cilium/.users-managed), not in memory
// or a local file: a restarted process, or another replica of it, must still
// know which users it created, or users removed from the file while it was
// down would live forever. The key is written before any user is created
// (recording the intent), so a crash half-way leaves no user unaccounted for.
// Users the file never listed are never touched; a listed user that existed
// before becomes managed, and is deleted once it leaves the file.
//
// A new content is applied only once two reads a moment apart (a quarter
// of a second, or the sync interval if shorter) return the same bytes, so
// that a file being rewritten in place is not applied half-written. Writing
// a new file and renaming it over the old one is still the better habit.
//
// A file that cannot be read or parsed (missing, malformed YAML, a user
// without a name, a duplicate, the reserved user root) is logged and
// leaves every user untouched; the cell applies the next valid version.
// So does a file with no list at all (empty, only comments), which is what
// a reader sees while a writer has truncated the file and not yet written
// it. An explicit empty list, [] or users: [], removes every managed user.
//
// Roles are not created here: they carry the key-range permissions and
// belong to whoever sets up the cluster's RBAC.
//
// The cell needs cells.Client and cells.UserMgmtClient (both in cells.All)
// and does nothing without --kvstore-users-file.
package users
