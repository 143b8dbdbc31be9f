package keyset

import (
	"hash/maphash"
	"strings"
)

// Set is the set of keys a watcher's consumer knows, with the bookkeeping of
// one resync at a time.
//
// Outside a list, See and Remove keep it up to date with watch events. A
// list attempt is StartList, See for every key the list returns (and See or
// Remove for watch events that interleave), then Sweep, which removes the
// keys known before the list that it did not see and hands them to the
// caller to report as deleted. A list attempt that fails is abandoned by
// calling StartList again: the keys it saw stay known (the consumer was told
// about them), and the next attempt's Sweep removes whatever it does not see.
//
// The zero value is an empty set, ready to use.
type Set struct {
	pfx    string
	seed   maphash.Seed
	seeded bool

	// cur receives new keys. While old is not nil, its keys are moved
	// into cur a few slots per operation (migrated is the next slot);
	// lookups consult both, and a key is in exactly one of them.
	cur, old table
	migrated int
	// migrateStep is how many old slots an operation moves: enough to
	// finish before cur fills up with new keys.
	migrateStep int

	slab slab
	// overflow holds keys (full, with their mark) once the slab's address
	// space is exhausted: 4 GiB of keys, which no etcd holds.
	overflow map[string]uint8

	n       int   // known keys
	epoch   uint8 // of the current list attempt: 1..maxEpoch
	listing bool
	// stale counts the known keys the current list attempt has not seen:
	// those Sweep will remove. Sweep stops walking once it reaches zero.
	stale int

	// forcedMigrations counts moves that had to finish in one operation
	// because cur filled up first; tests require zero.
	forcedMigrations int

	// maxEpoch is the package's constant except in tests, which lower it
	// to exercise the reset of marks when the counter wraps.
	maxEpoch uint8
}

// UsePrefix declares that keys usually start with p, so that the set need
// not store it for each of them. It only takes effect while the set is
// empty and has never stored a key; keys without p are stored whole.
func (s *Set) UsePrefix(p string) {
	if s.n == 0 && len(s.slab.chunks) == 0 {
		s.pfx = p
	}
}

// Len returns the number of known keys.
func (s *Set) Len() int { return s.n }

// Stale returns the number of keys the current list attempt has not seen
// yet (zero outside a list): those its Sweep would remove.
func (s *Set) Stale() int { return s.stale }

func (s *Set) init() {
	if !s.seeded {
		s.seed, s.seeded = maphash.MakeSeed(), true
		if s.slab.chunkCap == 0 {
			s.slab = newSlab()
		}
		if s.maxEpoch == 0 {
			s.maxEpoch = maxEpoch
		}
	}
}

// split returns what the slab stores of key, and the stripped flag.
func (s *Set) strip(key string) (string, uint8) {
	if sfx, ok := strings.CutPrefix(key, s.pfx); ok {
		return sfx, metaStripped
	}
	return key, 0
}

func (s *Set) hash(sfx string, meta uint8) uint64 {
	h := maphash.String(s.seed, sfx)
	if meta&metaStripped == 0 {
		h ^= 0x9e3779b97f4a7c15
	}
	return h
}

// find returns the table and slot holding the key, or nil.
func (s *Set) find(h uint64, sfx string, meta uint8) (*table, int, int) {
	i, free := s.cur.lookup(&s.slab, h, sfx, meta)
	if i >= 0 {
		return &s.cur, i, free
	}
	if s.old.tags != nil {
		if j, _ := s.old.lookup(&s.slab, h, sfx, meta); j >= 0 {
			return &s.old, j, free
		}
	}
	return nil, -1, free
}

// StartList begins a list attempt: every known key becomes unseen.
func (s *Set) StartList() {
	s.init()
	if s.epoch >= s.maxEpoch {
		// The counter wraps: forget every mark, so that no key carries
		// an epoch that will come round again. Once per maxEpoch lists,
		// on the list's path, never on an event's.
		s.slab.walk(func(addr uint32, _ uint8) bool {
			m := s.slab.meta(addr)
			*m = *m&metaStripped | markReset
			return true
		})
		for k := range s.overflow {
			s.overflow[k] = markReset
		}
		s.epoch = 0
	}
	s.epoch++
	s.listing = true
	s.stale = s.n
}

// Reserve announces about n keys (a list's count), so that the table is
// allocated once at its final size rather than grown step by step.
func (s *Set) Reserve(n int) {
	s.init()
	if n <= 0 || 7*len(s.cur.tags) >= 8*n || s.old.tags != nil {
		return
	}
	if s.cur.used == 0 {
		s.cur = newTable(capFor(n))
		return
	}
	s.startMigration(capFor(max(n, s.n)))
}

// See records key as known (and as seen by the current list attempt) and
// reports whether it was known already: then the event is a Modify.
func (s *Set) See(key string) (known bool) {
	s.init()
	s.work()
	sfx, meta := s.strip(key)
	h := s.hash(sfx, meta)
	t, i, free := s.find(h, sfx, meta)
	if t != nil {
		if s.listing {
			s.markSeen(s.slab.meta(t.offs[i]))
		}
		return true
	}
	if s.overflow != nil {
		if m, ok := s.overflow[key]; ok {
			if s.listing && m != s.epoch {
				s.overflow[key] = s.epoch
				s.stale--
			}
			return true
		}
	}
	s.n++
	addr, ok := s.slab.add(sfx, meta|s.epoch)
	if !ok {
		if s.overflow == nil {
			s.overflow = make(map[string]uint8)
		}
		s.overflow[key] = s.epoch
		return false
	}
	if s.cur.full() {
		s.grow()
		free = -1
	}
	if free < 0 {
		s.cur.insertAbsent(h, addr)
	} else {
		s.cur.place(free, h, addr)
	}
	return false
}

func (s *Set) markSeen(m *uint8) {
	if *m&markMask != s.epoch {
		*m = *m&metaStripped | s.epoch
		s.stale--
	}
}

// Remove forgets key and reports whether it was known.
func (s *Set) Remove(key string) (known bool) {
	s.init()
	s.work()
	if !s.remove(key) {
		return false
	}
	s.maybeShrink()
	return true
}

func (s *Set) remove(key string) bool {
	sfx, meta := s.strip(key)
	h := s.hash(sfx, meta)
	t, i, _ := s.find(h, sfx, meta)
	if t != nil {
		addr := t.offs[i]
		s.unsee(*s.slab.meta(addr))
		t.tags[i] = tagTomb
		s.slab.kill(addr)
		s.n--
		return true
	}
	if m, ok := s.overflow[key]; ok {
		s.unsee(m)
		delete(s.overflow, key)
		s.n--
		return true
	}
	return false
}

// unsee accounts for the removal of a key with meta (or mark) m.
func (s *Set) unsee(m uint8) {
	if s.listing && m&markMask != s.epoch {
		s.stale--
	}
}

// Sweep ends the list attempt: it removes every known key the attempt did
// not see and calls fn with each, in no particular order. When fn returns
// false Sweep stops and returns false; the key fn was given is removed, the
// ones not visited yet stay known. fn must not call methods of s.
func (s *Set) Sweep(fn func(key string) bool) bool {
	if !s.listing {
		return true
	}
	ok := true
	if s.stale > 0 {
		ok = s.sweep(fn)
	}
	s.listing, s.stale = false, 0
	s.maybeShrink()
	return ok
}

func (s *Set) sweep(fn func(key string) bool) bool {
	ok := true
	s.slab.frozen = true
	s.slab.walk(func(addr uint32, meta uint8) bool {
		if meta&markMask == s.epoch {
			return true
		}
		sfx, _ := s.slab.view(addr)
		// A fresh copy: sfx aliases the slab, and a concatenation
		// with an empty prefix would return it as it is.
		key := strings.Clone(sfx)
		if meta&metaStripped != 0 && s.pfx != "" {
			key = s.pfx + sfx
		}
		s.remove(key)
		ok = fn(key)
		return ok && s.stale > 0
	})
	s.slab.thaw()
	for k, m := range s.overflow {
		if !ok || s.stale == 0 {
			break
		}
		if m != s.epoch {
			s.remove(k)
			ok = fn(k)
		}
	}
	return ok
}
