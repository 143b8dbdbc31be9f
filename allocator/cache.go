package allocator

import (
	"slices"
	"sync"
)

// cache mirrors the master keys (B/id/) as the watch reports them. It is
// safe for concurrent use; the watch goroutine is its only writer.
type cache struct {
	mu     sync.RWMutex
	byID   map[ID]string
	byKey  map[string][]ID // more than one ID: a key with two master keys (until GC)
	synced chan struct{}   // closed at the first ListDone
	once   sync.Once

	// onChange is called, outside mu, for every change (events, hints).
	onChange func(typ changeType, id ID, key string)
}

type changeType int

const (
	changeUpsert changeType = iota
	changeDelete
	changeListDone
)

func newCache(onChange func(changeType, ID, string)) *cache {
	return &cache{
		byID:     map[ID]string{},
		byKey:    map[string][]ID{},
		synced:   make(chan struct{}),
		onChange: onChange,
	}
}

// OnListDone implements CacheMutations.
func (c *cache) OnListDone() {
	c.once.Do(func() { close(c.synced) })
	c.onChange(changeListDone, NoID, "")
}

// OnUpsert implements CacheMutations.
func (c *cache) OnUpsert(id ID, key string) {
	c.mu.Lock()
	if old, ok := c.byID[id]; ok && old != key {
		c.dropKeyLocked(old, id)
	}
	c.byID[id] = key
	if !slices.Contains(c.byKey[key], id) {
		c.byKey[key] = append(c.byKey[key], id)
	}
	c.mu.Unlock()
	c.onChange(changeUpsert, id, key)
}

// OnDelete implements CacheMutations. key may be empty (etcd does not
// return deleted values); the cache knows it.
func (c *cache) OnDelete(id ID, key string) {
	c.mu.Lock()
	if old, ok := c.byID[id]; ok {
		key = old
		delete(c.byID, id)
		c.dropKeyLocked(old, id)
	}
	c.mu.Unlock()
	c.onChange(changeDelete, id, key)
}

func (c *cache) dropKeyLocked(key string, id ID) {
	ids := slices.DeleteFunc(c.byKey[key], func(x ID) bool { return x == id })
	if len(ids) == 0 {
		delete(c.byKey, key)
	} else {
		c.byKey[key] = ids
	}
}

// id returns the ID of key and whether it is the only one.
func (c *cache) id(key string) (ID, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ids := c.byKey[key]
	if len(ids) == 0 {
		return NoID, false
	}
	return ids[0], len(ids) == 1
}

// ids returns every ID whose master key names key, smallest first.
func (c *cache) ids(key string) []ID {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := slices.Clone(c.byKey[key])
	slices.Sort(out)
	return out
}

func (c *cache) key(id ID) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok := c.byID[id]
	return k, ok
}

func (c *cache) foreach(fn func(ID, string)) {
	c.mu.RLock()
	snapshot := make(map[ID]string, len(c.byID))
	for id, k := range c.byID {
		snapshot[id] = k
	}
	c.mu.RUnlock()
	for _, id := range slices.Sorted(func(yield func(ID) bool) {
		for id := range snapshot {
			if !yield(id) {
				return
			}
		}
	}) {
		fn(id, snapshot[id])
	}
}
