package allocator

import "errors"

// Sentinel errors of the package. Match them with errors.Is; they are
// wrapped with the key, ID or range concerned.
var (
	// ErrNoBackend fires when NewKVStoreBackend gets no
	// kvstore.BackendOperations, or NewAllocator no Backend.
	ErrNoBackend = errors.New("kvstore client not configured")

	// ErrInvalidConfig fires for a configuration that cannot work: an
	// empty base path, a node name with a "/", min > max, an empty range
	// or a prefix mask that overlaps the range. The message names the
	// value at fault.
	ErrInvalidConfig = errors.New("invalid allocator configuration")

	// ErrEmptyKey fires when a key is empty: its slave keys would be those
	// of every key.
	ErrEmptyKey = errors.New("allocator: empty key")

	// ErrRangeExhausted fires when every ID of [min, max] is in use: the
	// allocation wrote nothing. The message names both bounds. Free IDs
	// with GC or widen the range.
	ErrRangeExhausted = errors.New("allocator: no more available IDs in configured space")

	// ErrMasterKeyExists fires when AllocateID finds the master key of the
	// ID already present: another key (or a concurrent allocation of the
	// same key) owns the ID.
	ErrMasterKeyExists = errors.New("allocator: master key already exists")

	// ErrIDReassigned fires when UpdateKey finds the master key of the ID
	// naming another key: the ID was freed and given to that key while
	// this node's slave key was missing. Nothing was written; the
	// Allocator then gives the key another ID and sends a Modify Event.
	ErrIDReassigned = errors.New("allocator: ID given to another key")

	// ErrNotAllocated fires when Release is called for a key this
	// Allocator holds no reference to.
	ErrNotAllocated = errors.New("allocator: key not allocated locally")

	// ErrClosed fires for calls on a closed Allocator.
	ErrClosed = errors.New("allocator: closed")

	// ErrInvalidID fires for the ID 0 (NoID), which is never allocated.
	ErrInvalidID = errors.New("allocator: invalid ID")
)
