package leasebook

import "strings"

// Book maps keys to leases of type ID, each lease carrying a value of type L
// (its session, its done channel...). It fills the current lease up to
// maxKeys keys, then any lease with room left; when none has room, the
// caller grants a new one and Adds it.
//
// A Book is not safe for concurrent use: the owning manager locks around it.
type Book[ID comparable, L any] struct {
	maxKeys int
	current ID
	leases  map[ID]*entry[L]
	keys    map[string]ID
}

type entry[L any] struct {
	value L
	count int
}

// New returns an empty book that puts at most maxKeys keys on a lease.
func New[ID comparable, L any](maxKeys int) *Book[ID, L] {
	return &Book[ID, L]{
		maxKeys: maxKeys,
		leases:  make(map[ID]*entry[L]),
		keys:    make(map[string]ID),
	}
}

// Lookup returns the lease key is attached to.
func (b *Book[ID, L]) Lookup(key string) (ID, L, bool) {
	if id, ok := b.keys[key]; ok {
		return id, b.leases[id].value, true
	}
	var (
		zeroID ID
		zeroL  L
	)
	return zeroID, zeroL, false
}

// Attach attaches key to the current lease, or to any lease with room (which
// becomes current). It reports false, attaching nothing, when no lease has
// room: the caller grants one, Adds it and attaches again.
func (b *Book[ID, L]) Attach(key string) (ID, L, bool) {
	if id, v, ok := b.Lookup(key); ok {
		return id, v, true
	}
	id, e := b.room()
	if e == nil {
		var zeroL L
		return id, zeroL, false
	}
	b.current = id
	e.count++
	b.keys[key] = id
	return id, e.value, true
}

func (b *Book[ID, L]) room() (ID, *entry[L]) {
	if e, ok := b.leases[b.current]; ok && e.count < b.maxKeys {
		return b.current, e
	}
	for id, e := range b.leases {
		if e.count < b.maxKeys {
			return id, e
		}
	}
	var zeroID ID
	return zeroID, nil
}

// Add records a new lease, with no key yet, and makes it current.
func (b *Book[ID, L]) Add(id ID, value L) {
	b.leases[id] = &entry[L]{value: value}
	b.current = id
}

// Remove forgets lease id and every key attached to it, returning the
// lease's value and those keys. ok is false if the lease was unknown (already
// removed): expiry can be noticed twice, and must be acted on once.
func (b *Book[ID, L]) Remove(id ID) (value L, lost []string, ok bool) {
	e, ok := b.leases[id]
	if !ok {
		return value, nil, false
	}
	delete(b.leases, id)
	for k, l := range b.keys {
		if l == id {
			lost = append(lost, k)
			delete(b.keys, k)
		}
	}
	return e.value, lost, true
}

// Value returns the value of lease id.
func (b *Book[ID, L]) Value(id ID) (L, bool) {
	e, ok := b.leases[id]
	if !ok {
		var zeroL L
		return zeroL, false
	}
	return e.value, true
}

// SetValue replaces the value of lease id (a renewed keepalive session); it
// reports false if the lease is unknown (removed meanwhile).
func (b *Book[ID, L]) SetValue(id ID, value L) bool {
	e, ok := b.leases[id]
	if ok {
		e.value = value
	}
	return ok
}

// Release detaches key from its lease; the lease stays for reuse.
func (b *Book[ID, L]) Release(key string) {
	id, ok := b.keys[key]
	if !ok {
		return
	}
	delete(b.keys, key)
	if e, ok := b.leases[id]; ok && e.count > 0 {
		e.count--
	}
}

// ReleasePrefix detaches every key starting with prefix.
func (b *Book[ID, L]) ReleasePrefix(prefix string) {
	for k := range b.keys {
		if strings.HasPrefix(k, prefix) {
			b.Release(k)
		}
	}
}

// IsAttached reports whether key is attached to any lease.
func (b *Book[ID, L]) IsAttached(key string) bool {
	_, ok := b.keys[key]
	return ok
}

// Has reports whether key is attached to exactly lease id.
func (b *Book[ID, L]) Has(key string, id ID) bool {
	l, ok := b.keys[key]
	return ok && l == id
}

// Leases returns the number of leases.
func (b *Book[ID, L]) Leases() int { return len(b.leases) }

// Each calls fn with every lease's value.
func (b *Book[ID, L]) Each(fn func(id ID, value L)) {
	for id, e := range b.leases {
		fn(id, e.value)
	}
}
