package memory

import (
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hivekv/kvstore"
)

// Store is one key space shared by its clients, as one etcd cluster is shared
// by its clients: a map of keys with etcd's metadata (create and mod
// revision, version, lease), one revision counter, the leases, the users and
// the feeds of the watchers.
//
// Every mutation runs under mu and is one "transaction": it bumps the
// revision once (a write that changes nothing, such as deleting a missing
// key, bumps nothing) and appends its events to the matching watcher feeds
// before mu is released, so watchers see writes in revision order and
// without gaps. Nothing blocks while holding mu.
type Store struct {
	name string

	mu       sync.Mutex
	rev      int64 // revision of the last write; starts at 1 like etcd
	kvs      map[string]*entry
	leases   map[int64]*storeLease
	watchers map[*feed]struct{}
	users    map[string]map[string]struct{} // user -> roles
}

// entry is a stored key. Entries are replaced, never reused, when a key is
// deleted and created again, so gone always belongs to one incarnation.
type entry struct {
	value   []byte
	create  int64 // revision that created this incarnation
	mod     int64 // revision of the last write
	version int64 // writes since creation, 1 for a new key
	lease   int64 // 0: no lease

	// gone is closed when this incarnation is deleted; made on demand by
	// lock waiters, nil when nobody waits.
	gone chan struct{}
}

// storeEvent is a change as the store records it for the watchers.
type storeEvent struct {
	typ   kvstore.EventType // Create, Modify or Delete
	key   string
	value []byte // nil for Delete
	rev   int64
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Store{}

	privateStores atomic.Int64
)

// DefaultStoreName is the store of clients that name none.
const DefaultStoreName = "default"

// Open returns the process-wide store called name ("" = DefaultStoreName),
// creating it on first use. Clients created with New(name, ...) share it.
func Open(name string) *Store {
	if name == "" {
		name = DefaultStoreName
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	s, ok := registry[name]
	if !ok {
		s = newStore(name)
		registry[name] = s
	}
	return s
}

// NewStore returns a private store that no other caller can Open: tests
// that want isolation create one and their clients with Store.NewClient.
func NewStore() *Store {
	return newStore("private-" + strconv.FormatInt(privateStores.Add(1), 10))
}

func newStore(name string) *Store {
	return &Store{
		name:     name,
		rev:      1,
		kvs:      make(map[string]*entry),
		leases:   make(map[int64]*storeLease),
		watchers: make(map[*feed]struct{}),
		users:    make(map[string]map[string]struct{}),
	}
}

// Name returns the store's name.
func (s *Store) Name() string { return s.name }

// Revision returns the revision of the last write.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Len returns the number of keys.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kvs)
}

// Compact drops the store's history up to the current revision, as etcd's
// compaction does. Watchers that have not yet delivered every event up to
// now have lost their place: they list again and report the difference
// (see kvstore.Watcher), exactly like etcd watchers that fall behind a
// compaction.
func (s *Store) Compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for f := range s.watchers {
		f.compactLocked()
	}
}

// putLocked writes key in a transaction of its own. A lease that does not
// exist (any more) fails the write, with nothing written, like etcd does.
func (s *Store) putLocked(key string, value []byte, lease int64) error {
	if err := s.checkLeaseLocked(lease); err != nil {
		return err
	}
	s.rev++
	s.writeLocked(key, value, lease)
	return nil
}

// checkLeaseLocked fails with a leaseNotFoundError when lease (non-zero) does
// not exist (any more).
func (s *Store) checkLeaseLocked(lease int64) error {
	if lease != 0 {
		if _, ok := s.leases[lease]; !ok {
			return &leaseNotFoundError{id: lease}
		}
	}
	return nil
}

// writeLocked writes key at the current revision s.rev, which the caller has
// bumped for its transaction; the lease must exist.
func (s *Store) writeLocked(key string, value []byte, lease int64) {
	e, exists := s.kvs[key]
	if !exists {
		e = &entry{create: s.rev}
		s.kvs[key] = e
	}
	if e.lease != lease {
		s.detachLocked(key, e.lease)
		if l := s.leases[lease]; l != nil {
			l.keys[key] = struct{}{}
		}
		e.lease = lease
	}
	e.value = clone(value)
	e.mod = s.rev
	e.version++
	typ := kvstore.EventTypeModify
	if !exists {
		typ = kvstore.EventTypeCreate
	}
	s.notifyLocked(storeEvent{typ: typ, key: key, value: e.value, rev: s.rev})
}

// deleteLocked deletes the given keys that exist, all in one revision, and
// reports how many it deleted.
func (s *Store) deleteLocked(keys []string) int {
	var n int
	for _, k := range keys {
		if _, ok := s.kvs[k]; !ok {
			continue
		}
		if n == 0 {
			s.rev++
		}
		n++
		s.removeLocked(k)
	}
	return n
}

// removeLocked deletes the existing key at the current revision s.rev, which
// the caller has bumped for its transaction.
func (s *Store) removeLocked(k string) {
	e := s.kvs[k]
	delete(s.kvs, k)
	s.detachLocked(k, e.lease)
	if e.gone != nil {
		close(e.gone)
	}
	s.notifyLocked(storeEvent{typ: kvstore.EventTypeDelete, key: k, rev: s.rev})
}

func (s *Store) detachLocked(key string, lease int64) {
	if l := s.leases[lease]; l != nil {
		delete(l.keys, key)
	}
}

// keysLocked returns the keys starting with prefix, sorted.
func (s *Store) keysLocked(prefix string) []string {
	var keys []string
	for k := range s.kvs {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (s *Store) notifyLocked(ev storeEvent) {
	for f := range s.watchers {
		if strings.HasPrefix(ev.key, f.prefix) {
			f.pushLocked(ev)
		}
	}
}

// valueOf is the value of an existing entry for a reader: never nil, so that
// an empty value cannot be mistaken for a missing key.
func valueOf(e *entry) []byte {
	if v := clone(e.value); v != nil {
		return v
	}
	return []byte{}
}

// clone copies b so that neither the caller nor the store can change the
// other's bytes. Empty values come back as nil: etcd does not distinguish an
// empty value from no value on the wire either.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
