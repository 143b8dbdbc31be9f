package store

import "errors"

// Sentinel errors of the package. Match them with errors.Is: they are wrapped
// with the store and the cause.
var (
	// ErrEmptyPrefix fires when a store is created with an empty prefix,
	// which would address the whole key space. Pass the prefix the keys
	// live under, such as "cilium/state/nodes/v1".
	ErrEmptyPrefix = errors.New("store: empty prefix")

	// ErrNoKeyCreator fires when a reading store is created without a
	// KeyCreator: it could not decode what it reads. Pass one, such as
	// KVPairCreator.
	ErrNoKeyCreator = errors.New("store: nil key creator")

	// ErrNoObserver fires when a watch store is created without an
	// Observer: it would have no one to report to.
	ErrNoObserver = errors.New("store: nil observer")

	// ErrEmptyClusterName fires when a Mirror is configured without the
	// remote cluster's name, which its copies and markers are named after
	// (together with ErrInvalidClusterName: the empty name is one invalid
	// name).
	ErrEmptyClusterName = errors.New("store: empty cluster name")

	// ErrInvalidClusterName fires when a cluster name that would become
	// part of a key breaks Cilium's rule (ValidateClusterName): NewMirror
	// returns it; a SyncStore or synced-marker WatchStoreManager created
	// with such a name logs it, returns it from every method that returns
	// errors and writes (or watches) nothing. Use at most 32 lowercase
	// alphanumerics and '-', starting and ending with an alphanumeric.
	ErrInvalidClusterName = errors.New("store: invalid cluster name")

	// ErrKeyOutsidePrefix fires when a SyncStore is given a key name that
	// path.Join would place outside the store's prefix (a ".." element
	// climbing out of it, or an empty name, which is the prefix itself),
	// or a synced-key override that leaves cilium/synced/<cluster>/: the
	// write would overwrite keys the store does not own, such as another
	// cluster's copies in a Mirror. Nothing is written. Use names without
	// such elements.
	ErrKeyOutsidePrefix = errors.New("store: key outside the store's prefix")

	// ErrNoBackend fires when a store is created with a nil backend.
	ErrNoBackend = errors.New("store: nil backend")

	// ErrMarshal fires when UpsertKey cannot marshal a key; nothing was
	// queued. Fix the key's Marshal.
	ErrMarshal = errors.New("store: failed marshaling key")

	// ErrAlreadyRunning fires when Run or Watch is called while a previous
	// call on the same store is still running, or Drain while a Watch is
	// running. Wait for the first call to return (cancel its ctx) first.
	ErrAlreadyRunning = errors.New("store: already running")

	// ErrManagerStarted fires when Register is called on a
	// WatchStoreManager that is already running: register every prefix
	// before Run.
	ErrManagerStarted = errors.New("store: watch store manager already running")

	// ErrInitialListTimeout fires when JoinSharedStore does not receive the
	// initial list of its prefix in time (the store is unreachable or very
	// slow).
	ErrInitialListTimeout = errors.New("store: timeout while retrieving initial list of objects from kvstore")
)
