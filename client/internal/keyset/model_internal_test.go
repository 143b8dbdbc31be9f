package keyset

import (
	"fmt"
	"strings"
	"testing"
)

// model is the plain set a Set must behave like: each known key and
// whether the current list attempt saw it.
type model struct {
	seen    map[string]bool
	listing bool
}

func newModel() *model { return &model{seen: make(map[string]bool)} }

func (m *model) startList() {
	for k := range m.seen {
		m.seen[k] = false
	}
	m.listing = true
}

func (m *model) see(k string) bool {
	_, known := m.seen[k]
	m.seen[k] = true
	return known
}

func (m *model) remove(k string) bool {
	_, known := m.seen[k]
	delete(m.seen, k)
	return known
}

func (m *model) stale() int {
	if !m.listing {
		return 0
	}
	n := 0
	for _, seen := range m.seen {
		if !seen {
			n++
		}
	}
	return n
}

// pair drives a Set and the model with the same operations and fails on
// the first difference in answers, contents or representation invariants.
type pair struct {
	t   testing.TB
	s   *Set
	ref *model
}

func (p *pair) see(k string) {
	p.t.Helper()
	if got, want := p.s.See(k), p.ref.see(k); got != want {
		p.t.Fatalf("See(%q) = %v, want %v", k, got, want)
	}
}

func (p *pair) remove(k string) {
	p.t.Helper()
	if got, want := p.s.Remove(k), p.ref.remove(k); got != want {
		p.t.Fatalf("Remove(%q) = %v, want %v", k, got, want)
	}
}

func (p *pair) startList() {
	p.s.StartList()
	p.ref.startList()
}

// sweep sweeps, with fn answering false on its stopAfter-th call (never if
// stopAfter <= 0).
func (p *pair) sweep(stopAfter int) {
	p.t.Helper()
	wasListing := p.ref.listing
	calls := 0
	complete := p.s.Sweep(func(k string) bool {
		seen, known := p.ref.seen[k]
		if !known || seen {
			p.t.Fatalf("Sweep reported %q (known %v, seen %v)", k, known, seen)
		}
		delete(p.ref.seen, k)
		calls++
		return calls != stopAfter
	})
	if want := calls != stopAfter || stopAfter <= 0; complete != want {
		p.t.Fatalf("Sweep returned %v after %d calls, stop after %d", complete, calls, stopAfter)
	}
	if wasListing && complete && p.ref.stale() != 0 {
		p.t.Fatalf("Sweep missed %d keys", p.ref.stale())
	}
	p.ref.listing = false
}

func (p *pair) check(what string) {
	p.t.Helper()
	if p.s.Len() != len(p.ref.seen) {
		p.t.Fatalf("%s: Len %d, want %d", what, p.s.Len(), len(p.ref.seen))
	}
	if got, want := p.s.Stale(), p.ref.stale(); got != want {
		p.t.Fatalf("%s: Stale %d, want %d", what, got, want)
	}
	got := p.s.check(p.t)
	for k := range p.ref.seen {
		if !got[k] {
			p.t.Fatalf("%s: %q missing", what, k)
		}
	}
	if len(got) != len(p.ref.seen) {
		p.t.Fatalf("%s: %d keys, want %d", what, len(got), len(p.ref.seen))
	}
	if p.s.forcedMigrations != 0 {
		p.t.Fatalf("%s: a table move had to finish in one operation", what)
	}
}

// check verifies the representation and returns the keys s holds:
// every live table slot points at a live record with its hash's tag, each
// live record is pointed at once, chunk accounting is exact, the stale
// count matches the marks, and every key is found by a lookup.
func (s *Set) check(t testing.TB) map[string]bool {
	t.Helper()
	keys := make(map[string]bool)
	if !s.seeded {
		if s.n != 0 {
			t.Fatalf("unseeded set with %d keys", s.n)
		}
		return keys
	}
	refs := make(map[uint32]bool)
	stale := 0
	full := func(addr uint32) (string, uint8) {
		sfx, meta := s.slab.view(addr)
		if meta&metaStripped != 0 {
			return s.pfx + sfx, meta
		}
		return strings.Clone(sfx), meta
	}
	for name, tb := range map[string]*table{"cur": &s.cur, "old": &s.old} {
		used := 0
		for i, g := range tb.tags {
			if g != tagEmpty {
				used++
			}
			if g <= tagTomb {
				continue
			}
			if tb == &s.old && i < s.migrated {
				t.Fatalf("old slot %d below the migration point %d is live", i, s.migrated)
			}
			addr := tb.offs[i]
			if refs[addr] {
				t.Fatalf("record %#x referenced twice", addr)
			}
			refs[addr] = true
			key, meta := full(addr)
			if meta&markMask == markDead {
				t.Fatalf("%s slot %d points at a dead record", name, i)
			}
			if keys[key] {
				t.Fatalf("%q stored twice", key)
			}
			keys[key] = true
			sfx, m := s.strip(key)
			h := s.hash(sfx, m)
			if tagOf(h) != g {
				t.Fatalf("%q: tag %d, want %d", key, g, tagOf(h))
			}
			if ft, fi, _ := s.find(h, sfx, m); ft != tb || fi != i {
				t.Fatalf("%q not found by lookup", key)
			}
			if s.listing && meta&markMask != s.epoch {
				stale++
			}
		}
		if tb == &s.cur && used != tb.used {
			t.Fatalf("cur counts %d used slots, has %d", tb.used, used)
		}
	}
	// The slab: live bytes per chunk, every live record referenced.
	liveBytes := make([]uint32, len(s.slab.chunks))
	s.slab.walk(func(addr uint32, meta uint8) bool {
		if !refs[addr] {
			t.Fatalf("live record %#x not in a table", addr)
		}
		_, _, _, size := s.slab.recordAt(addr)
		c, _ := split(addr)
		liveBytes[c] += uint32(size)
		return true
	})
	nfree := 0
	for c := range s.slab.chunks {
		if liveBytes[c] != s.slab.live[c] {
			t.Fatalf("chunk %d: %d live bytes counted, %d recorded", c, liveBytes[c], s.slab.live[c])
		}
		if (s.slab.state[c] == chunkFree) != (s.slab.chunks[c] == nil) {
			t.Fatalf("chunk %d: state %d, nil %v", c, s.slab.state[c], s.slab.chunks[c] == nil)
		}
		if s.slab.state[c] == chunkFree {
			nfree++
		}
	}
	if nfree != len(s.slab.free) {
		t.Fatalf("%d free chunks, %d listed", nfree, len(s.slab.free))
	}
	for k, m := range s.overflow {
		if keys[k] {
			t.Fatalf("%q both in the slab and the overflow", k)
		}
		keys[k] = true
		if s.listing && m != s.epoch {
			stale++
		}
	}
	if len(keys) != s.n {
		t.Fatalf("%d keys stored, Len %d", len(keys), s.n)
	}
	if s.listing && stale != s.stale {
		t.Fatalf("%d keys unseen, stale %d", stale, s.stale)
	}
	return keys
}

// smallSet returns a set whose chunks, address space and epoch counter are
// tiny, so that a few dozen keys exercise evacuation, big records, the
// overflow map and the wrap of the epoch.
func smallSet(pfx string, chunkCap, chunkLimit int, epochs uint8) *Set {
	s := &Set{}
	s.UsePrefix(pfx)
	s.init()
	s.slab.chunkCap, s.slab.limit, s.maxEpoch = chunkCap, chunkLimit, epochs
	return s
}

func (p *pair) String() string { return fmt.Sprintf("set of %d", p.s.Len()) }
