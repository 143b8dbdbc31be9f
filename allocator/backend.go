package allocator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/logfallback"
)

// CacheMutations receives the changes of the master keys from
// Backend.ListAndWatch, from one goroutine, in store revision order:
// OnUpsert for every existing ID, one OnListDone, then changes. After a
// resync of the watch OnUpsert may repeat for IDs already reported.
type CacheMutations interface {
	OnListDone()
	OnUpsert(id ID, key string)
	OnDelete(id ID, key string)
}

// GCStats counts the master keys one GC round saw.
type GCStats struct {
	// Alive counts the master keys left after the round.
	Alive int
	// Deleted counts the master keys the round deleted.
	Deleted int
}

// Backend is the storage side of the allocator: Cilium v1.16's kvstore
// allocator backend, keys as strings. Every method that takes a lock runs
// only while the lock (from Lock) is held, else it fails with
// kvstore.ErrLockLeaseExpired and changes nothing.
type Backend interface {
	// Lock takes the distributed lock of key (B/locks/<key>).
	Lock(ctx context.Context, key string) (kvstore.KVLocker, error)
	// AllocateID creates the master key of id with value key; an existing
	// master key gives ErrMasterKeyExists.
	AllocateID(ctx context.Context, id ID, key string) error
	// AllocateIDIfLocked is AllocateID under lock.
	AllocateIDIfLocked(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error
	// AcquireReference writes this node's slave key of key (value id, on
	// the lease), under lock when lock is not nil.
	AcquireReference(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error
	// Release deletes this node's slave key of key. The master key stays:
	// GC deletes it once no node uses it.
	Release(ctx context.Context, id ID, key string) error
	// UpdateKey re-creates the master key of id if it is missing and
	// writes this node's slave key; with reliablyMissing the slave key is
	// known to be gone and is only created. It restores only what still
	// belongs to key: when the master key of id names another key (the ID
	// was freed and given to it while this node's slave key was missing),
	// it writes nothing and returns ErrIDReassigned; the caller must give
	// key another ID, never share id.
	UpdateKey(ctx context.Context, id ID, key string, reliablyMissing bool) error
	// UpdateKeyIfLocked is UpdateKey under lock.
	UpdateKeyIfLocked(ctx context.Context, id ID, key string, reliablyMissing bool, lock kvstore.KVLocker) error
	// Get returns the ID of key from its slave keys (any node's), NoID if
	// it has none.
	Get(ctx context.Context, key string) (ID, error)
	// GetIfLocked is Get under lock.
	GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) (ID, error)
	// GetByID returns the key of id from its master key, "" when the ID is
	// free.
	GetByID(ctx context.Context, id ID) (string, error)
	// ListAndWatch feeds handler with the master keys (see
	// CacheMutations) and returns when ctx ends.
	ListAndWatch(ctx context.Context, handler CacheMutations)
	// RunGC runs one round of master key GC over the IDs in [minID, maxID]:
	// a master key without slave keys is marked (returned with its mod
	// revision) and deleted, under its lock, if the next round finds it
	// unchanged and still unused. limiter paces the deletions.
	RunGC(ctx context.Context, limiter *rate.Limiter, staleKeysPrevRound map[string]uint64, minID, maxID ID) (map[string]uint64, *GCStats, error)
	// RunLocksGC deletes the lock keys that were held, unchanged, since the
	// previous round (the oldest key per lock path only: queued waiters
	// are left alone) and returns the candidates for the next round.
	RunLocksGC(ctx context.Context, staleLocksPrevRound map[string]kvstore.Value) (map[string]kvstore.Value, error)
	// DeleteAllKeys deletes every key under the base path.
	DeleteAllKeys(ctx context.Context) error
}

// KVStoreBackendConfig configures NewKVStoreBackend.
type KVStoreBackendConfig struct {
	// BasePath is B in the key layout, e.g. "cilium/state/identities/v1".
	BasePath string
	// Suffix is this node's name in its slave keys; it must not contain
	// "/". An operator that only runs GC may leave it empty.
	Suffix string
	// Backend is the store.
	Backend kvstore.BackendOperations
	// Log is the logger (nil: logrus' standard logger, see
	// internal/logfallback).
	Log logrus.FieldLogger
}

// kvstoreBackend is Backend over a kvstore.BackendOperations.
type kvstoreBackend struct {
	b    kvstore.BackendOperations
	tx   kvstore.Transactional // nil: the lock protocol only
	keys layout
	node string
	log  logrus.FieldLogger
}

// NewKVStoreBackend returns the Backend of cfg. When cfg.Backend is
// kvstore.Transactional, an Allocator on it allocates in one round trip.
func NewKVStoreBackend(cfg KVStoreBackendConfig) (Backend, error) {
	if cfg.Backend == nil {
		return nil, fmt.Errorf("%w: KVStoreBackendConfig.Backend is nil", ErrNoBackend)
	}
	if strings.Trim(cfg.BasePath, "/") == "" {
		return nil, fmt.Errorf("%w: empty base path: set KVStoreBackendConfig.BasePath (e.g. %q)", ErrInvalidConfig, "cilium/state/identities/v1")
	}
	if strings.Contains(cfg.Suffix, "/") {
		return nil, fmt.Errorf("%w: node suffix %q contains a '/': slave keys B/value/<key>/<node> would be ambiguous", ErrInvalidConfig, cfg.Suffix)
	}
	kb := &kvstoreBackend{
		b:    cfg.Backend,
		keys: newLayout(cfg.BasePath),
		node: cfg.Suffix,
		log:  logfallback.Or(cfg.Log).WithField("subsys", "allocator-backend"),
	}
	kb.tx, _ = cfg.Backend.(kvstore.Transactional)
	return kb, nil
}

func checkKey(key string) error {
	if key == "" {
		return ErrEmptyKey
	}
	return nil
}

func (k *kvstoreBackend) Lock(ctx context.Context, key string) (kvstore.KVLocker, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return k.b.LockPath(ctx, k.keys.lock(key))
}

func (k *kvstoreBackend) AllocateID(ctx context.Context, id ID, key string) error {
	return k.AllocateIDIfLocked(ctx, id, key, nil)
}

func (k *kvstoreBackend) AllocateIDIfLocked(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if id == NoID {
		return ErrInvalidID
	}
	path := k.keys.master(id)
	var created bool
	var err error
	if lock != nil {
		created, err = k.b.CreateOnlyIfLocked(ctx, path, []byte(key), false, lock)
	} else {
		created, err = k.b.CreateOnly(ctx, path, []byte(key), false)
	}
	if err != nil {
		return fmt.Errorf("unable to create master key '%s': %w", path, err)
	}
	if !created {
		return fmt.Errorf("unable to create master key '%s': %w", path, ErrMasterKeyExists)
	}
	return nil
}

func (k *kvstoreBackend) AcquireReference(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error {
	if err := checkKey(key); err != nil {
		return err
	}
	path := k.keys.slave(key, k.node)
	var err error
	if lock != nil {
		_, err = k.b.UpdateIfDifferentIfLocked(ctx, path, []byte(id.String()), true, lock)
	} else {
		_, err = k.b.UpdateIfDifferent(ctx, path, []byte(id.String()), true)
	}
	if err != nil {
		return fmt.Errorf("unable to create slave key '%s': unable to create value-node key '%s': %w", key, path, err)
	}
	return nil
}

func (k *kvstoreBackend) Release(ctx context.Context, id ID, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	path := k.keys.slave(key, k.node)
	k.log.WithFields(logrus.Fields{"key": key, "id": id}).Debug("Released last local use of key, invoking global release")
	if err := k.b.Delete(ctx, path); err != nil {
		k.log.WithError(err).WithField("key", path).Warning("Ignoring node specific ID")
		return fmt.Errorf("unable to delete slave key '%s': %w", path, err)
	}
	return nil
}

func (k *kvstoreBackend) UpdateKey(ctx context.Context, id ID, key string, reliablyMissing bool) error {
	return k.UpdateKeyIfLocked(ctx, id, key, reliablyMissing, nil)
}

func (k *kvstoreBackend) UpdateKeyIfLocked(ctx context.Context, id ID, key string, reliablyMissing bool, lock kvstore.KVLocker) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if id == NoID {
		return ErrInvalidID
	}
	if k.tx != nil {
		return k.updateKeyTxn(ctx, id, key, reliablyMissing, lock)
	}
	master := k.keys.master(id)
	var created bool
	var err error
	if lock != nil {
		created, err = k.b.CreateOnlyIfLocked(ctx, master, []byte(key), false, lock)
	} else {
		created, err = k.b.CreateOnly(ctx, master, []byte(key), false)
	}
	if err != nil {
		return fmt.Errorf("Unable to re-create missing master key %q -> %q: %w", master, key, err)
	}
	if created {
		k.log.WithFields(logrus.Fields{"key": master, "value": key}).Warning("Re-created missing master key")
	} else {
		// Without transactions the check and the write below are two
		// requests: under key's lock nobody can free a master key naming
		// key in between (GC takes that lock), without it a GC and a new
		// allocation could, in theory. The Allocator takes the lock.
		owner, err := k.b.Get(ctx, master)
		if err != nil {
			return fmt.Errorf("unable to read master key %q: %w", master, err)
		}
		if string(owner) != key {
			return reassigned(master, key, string(owner))
		}
	}
	slave := k.keys.slave(key, k.node)
	value := []byte(id.String())
	switch {
	case reliablyMissing && lock != nil:
		created, err = k.b.CreateOnlyIfLocked(ctx, slave, value, true, lock)
	case reliablyMissing:
		created, err = k.b.CreateOnly(ctx, slave, value, true)
	case lock != nil:
		created, err = k.b.UpdateIfDifferentIfLocked(ctx, slave, value, true, lock)
	default:
		created, err = k.b.UpdateIfDifferent(ctx, slave, value, true)
	}
	if err != nil {
		return fmt.Errorf("Unable to re-create missing slave key %q -> %q: %w", slave, value, err)
	}
	if created {
		k.log.WithFields(logrus.Fields{"key": slave, "value": id}).Warning("Re-created missing slave key")
	}
	return nil
}

func reassigned(master, key, owner string) error {
	return fmt.Errorf("%w: master key %q names %q, not %q: this node's slave key is not re-created", ErrIDReassigned, master, owner, key)
}

// updateKeyTxn is UpdateKeyIfLocked on a transactional store: the slave
// key is written only in a transaction that checks that the master key
// names key (or creates both), so a master key freed and given to another
// key meanwhile can never get a slave key of key. Keys already in place
// cost one read-only transaction.
func (k *kvstoreBackend) updateKeyTxn(ctx context.Context, id ID, key string, reliablyMissing bool, lock kvstore.KVLocker) error {
	master, slave := k.keys.master(id), k.keys.slave(key, k.node)
	value := []byte(id.String())
	var owner *string // nil: unknown, read it
	if !reliablyMissing {
		resp, err := k.tx.Txn(ctx, kvstore.Txn{
			If:   []kvstore.Cmp{kvstore.CmpValue(master, []byte(key)), kvstore.CmpValue(slave, value)},
			Else: []kvstore.Op{kvstore.OpGet(master)},
			Lock: lock,
		})
		if err != nil {
			return fmt.Errorf("unable to read the keys of %q (ID %d): %w", key, id, err)
		}
		if resp.Succeeded {
			return nil
		}
		owner = ownerOf(resp)
	}
	// A few rounds: each can only fail because a concurrent writer
	// created or deleted the master key in between.
	for range 3 {
		var txn kvstore.Txn
		switch {
		case owner != nil && *owner != key:
			return reassigned(master, key, *owner)
		case owner != nil && *owner == key:
			txn = kvstore.Txn{
				If:   []kvstore.Cmp{kvstore.CmpValue(master, []byte(key))},
				Then: []kvstore.Op{kvstore.OpPut(slave, value, true)},
				Else: []kvstore.Op{kvstore.OpGet(master)},
				Lock: lock,
			}
		default: // the master key is missing, or not read yet
			txn = kvstore.Txn{
				If: []kvstore.Cmp{kvstore.CmpMissing(master)},
				Then: []kvstore.Op{
					kvstore.OpPut(master, []byte(key), false),
					kvstore.OpPut(slave, value, true),
				},
				Else: []kvstore.Op{kvstore.OpGet(master)},
				Lock: lock,
			}
		}
		resp, err := k.tx.Txn(ctx, txn)
		if err != nil {
			return fmt.Errorf("Unable to re-create the keys of %q (ID %d): %w", key, id, err)
		}
		if resp.Succeeded {
			if owner == nil {
				k.log.WithFields(logrus.Fields{"key": master, "value": key}).Warning("Re-created missing master key")
			}
			k.log.WithFields(logrus.Fields{"key": slave, "value": id}).Info("Re-created slave key")
			return nil
		}
		owner = ownerOf(resp) // nil: deleted meanwhile, create it
	}
	return fmt.Errorf("unable to re-create the keys of %q (ID %d): the master key kept changing", key, id)
}

// ownerOf returns the value of the master key read by the first Else op,
// nil if it is missing.
func ownerOf(resp *kvstore.TxnResponse) *string {
	if len(resp.Results) == 0 || len(resp.Results[0].KVs) == 0 {
		return nil
	}
	v := string(resp.Results[0].KVs[0].Data)
	return &v
}

func (k *kvstoreBackend) Get(ctx context.Context, key string) (ID, error) {
	return k.GetIfLocked(ctx, key, nil)
}

func (k *kvstoreBackend) GetIfLocked(ctx context.Context, key string, lock kvstore.KVLocker) (ID, error) {
	if err := checkKey(key); err != nil {
		return NoID, err
	}
	prefix := k.keys.slaves(key)
	var pairs kvstore.KeyValuePairs
	var err error
	if lock != nil {
		pairs, err = k.b.ListPrefixIfLocked(ctx, prefix, lock)
	} else {
		pairs, err = k.b.ListPrefix(ctx, prefix)
	}
	if err != nil {
		return NoID, err
	}
	return k.firstSlaveID(prefix, pairs)
}

// firstSlaveID returns the ID of the first slave key (in key order) of
// exactly the key of prefix.
func (k *kvstoreBackend) firstSlaveID(prefix string, pairs kvstore.KeyValuePairs) (ID, error) {
	names := make([]string, 0, len(pairs))
	for name := range pairs {
		if isSlaveOf(prefix, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		id, err := ParseID(string(pairs[name].Data))
		if err != nil {
			k.log.WithError(err).WithField("key", name).Warning("Ignoring slave key with an unparsable value")
			continue
		}
		return id, nil
	}
	return NoID, nil
}

func (k *kvstoreBackend) GetByID(ctx context.Context, id ID) (string, error) {
	v, err := k.b.Get(ctx, k.keys.master(id))
	if err != nil {
		return "", err
	}
	return string(v), nil
}

func (k *kvstoreBackend) DeleteAllKeys(ctx context.Context) error {
	return k.b.DeletePrefix(ctx, k.keys.base)
}

// IDDeleter is implemented by the kvstore backend: doublewrite uses it to
// undo on one backend an allocation that failed on the other, and the
// Allocator to delete extra unused master keys of a key.
type IDDeleter interface {
	// DeleteID deletes the master key of id if it still names key. A
	// missing master key, or one naming another key, is not an error
	// (nothing is deleted). Without transactions it takes key's lock.
	DeleteID(ctx context.Context, id ID, key string) error
	// DeleteIDIfLocked is DeleteID for a caller holding key's lock.
	DeleteIDIfLocked(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error
}

func (k *kvstoreBackend) DeleteID(ctx context.Context, id ID, key string) error {
	if k.tx != nil {
		return k.DeleteIDIfLocked(ctx, id, key, nil)
	}
	lock, err := k.Lock(ctx, key)
	if err != nil {
		return fmt.Errorf("lock %q: %w", key, err)
	}
	defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
	return k.DeleteIDIfLocked(ctx, id, key, lock)
}

func (k *kvstoreBackend) DeleteIDIfLocked(ctx context.Context, id ID, key string, lock kvstore.KVLocker) error {
	if err := checkKey(key); err != nil {
		return err
	}
	master := k.keys.master(id)
	if k.tx != nil {
		_, err := k.tx.Txn(ctx, kvstore.Txn{
			If:   []kvstore.Cmp{kvstore.CmpValue(master, []byte(key))},
			Then: []kvstore.Op{kvstore.OpDelete(master)},
			Lock: lock,
		})
		return err
	}
	if lock == nil {
		return k.DeleteID(ctx, id, key)
	}
	// Under key's lock a master key naming key cannot change: creating it
	// fails (it exists), and only holders of this lock (GC) delete it.
	v, err := k.b.Get(ctx, master)
	if err != nil {
		return err
	}
	if string(v) != key {
		return nil
	}
	return k.b.DeleteIfLocked(ctx, master, lock)
}
