package mesh

import (
	"errors"

	"github.com/hivekv/kvstore/store"
)

// Sentinel errors of the package. They are wrapped with the cluster and the
// cause; match them with errors.Is.
var (
	// ErrInvalidClusterName fires for a config file whose name is not a
	// valid cluster name (at most 32 lowercase alphanumerics and '-',
	// starting and ending with an alphanumeric), or for an invalid
	// --cluster-name. Rename the file (or the flag value) accordingly. It
	// is the store's sentinel: the rule is the same everywhere.
	ErrInvalidClusterName = store.ErrInvalidClusterName

	// ErrNoConfigDir fires when the mesh is started without
	// --clustermesh-config: it would have no cluster to mirror.
	ErrNoConfigDir = errors.New("no cluster config directory (--clustermesh-config)")

	// ErrRemoteConfig fires when a remote cluster's config file cannot be
	// read or does not describe an etcd client; only that cluster is
	// affected. Fix the file: the mesh retries once it changes, and with
	// backoff in any case.
	ErrRemoteConfig = errors.New("invalid remote cluster config")

	// ErrRemoteUnreachable fires when a remote cluster's kvstore cannot be
	// connected; only that cluster is affected and the mesh keeps retrying
	// with backoff.
	ErrRemoteUnreachable = errors.New("remote cluster unreachable")
)
