package etcd

import (
	"math"
	"slices"
)

// keyArena is a sorted set of distinct keys packed back to back, with a
// tombstone bit per key for deletions (cheaper than moving the bytes).
type keyArena struct {
	data  []byte
	ends  []uint32 // key i is data[ends[i-1]:ends[i]] (from 0 for i == 0)
	dead  []uint64 // tombstone bits, allocated on the first kill
	ndead int
	hint  int // expected number of keys, to size data at the first push
}

func (a *keyArena) len() int  { return len(a.ends) }
func (a *keyArena) live() int { return len(a.ends) - a.ndead }

// key returns key i; the slice aliases the arena and must not be kept.
func (a *keyArena) key(i int) []byte {
	var start uint32
	if i > 0 {
		start = a.ends[i-1]
	}
	return a.data[start:a.ends[i]:a.ends[i]]
}

// push appends key, which must sort after every key of a. It reports false,
// appending nothing, if the arena would outgrow its 32-bit offsets.
func (a *keyArena) push(key string) bool {
	end := len(a.data) + len(key)
	if end > math.MaxUint32 {
		return false
	}
	if a.data == nil && a.hint > 0 {
		// Keys under one prefix have similar lengths; a longer key
		// later grows data once by append's 1.25 factor.
		a.data = make([]byte, 0, len(key)*a.hint)
	}
	a.data = append(a.data, key...)
	a.ends = append(a.ends, uint32(end))
	return true
}

// search returns the index of the first key at or after from that is not
// smaller than key, and whether it equals key. Comparisons convert the
// arena slice with string(...) inside the comparison, which the compiler
// performs without copying.
func (a *keyArena) search(key string, from int) (int, bool) {
	lo, hi := from, len(a.ends)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if string(a.key(m)) < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(a.ends) && string(a.key(lo)) == key
}

func (a *keyArena) isDead(i int) bool {
	w := i >> 6
	return w < len(a.dead) && a.dead[w]&(1<<(uint(i)&63)) != 0
}

func (a *keyArena) kill(i int) {
	w := i >> 6
	if w >= len(a.dead) {
		// Room for every key, and doubling for an arena that grows.
		dead := make([]uint64, max((len(a.ends)+63)/64, 2*len(a.dead)))
		copy(dead, a.dead)
		a.dead = dead
	}
	a.dead[w] |= 1 << (uint(i) & 63)
	a.ndead++
}

func (a *keyArena) revive(i int) {
	a.dead[i>>6] &^= 1 << (uint(i) & 63)
	a.ndead--
}

// trim gives back the room a reserve over-estimated, once the arena is
// complete: a copy now is cheaper than carrying the slack for the watch's
// lifetime.
func (a *keyArena) trim() {
	a.hint = 0
	if c := cap(a.data); c-len(a.data) > len(a.data)/4 && c > 4096 {
		a.data = slices.Clip(slices.Clone(a.data))
	}
	if c := cap(a.ends); c-len(a.ends) > len(a.ends)/4 && c > 1024 {
		a.ends = slices.Clip(slices.Clone(a.ends))
	}
}

// mergeLive returns the sorted union of the live keys of a and b, sized
// exactly (a first pass counts). It reports false if the union outgrows
// 32-bit offsets.
func mergeLive(a, b *keyArena) (keyArena, bool) {
	var keys, size int
	mergeWalk(a, b, func(k []byte) { keys++; size += len(k) })
	if size > math.MaxUint32 {
		return keyArena{}, false
	}
	m := keyArena{data: make([]byte, 0, size), ends: make([]uint32, 0, keys)}
	mergeWalk(a, b, func(k []byte) {
		m.data = append(m.data, k...)
		m.ends = append(m.ends, uint32(len(m.data)))
	})
	return m, true
}

// mergeWalk calls fn with each live key of a or b once, in ascending order.
func mergeWalk(a, b *keyArena, fn func(k []byte)) {
	i, j := 0, 0
	for i < a.len() || j < b.len() {
		if i < a.len() && a.isDead(i) {
			i++
			continue
		}
		if j < b.len() && b.isDead(j) {
			j++
			continue
		}
		switch {
		case j == b.len():
			fn(a.key(i))
			i++
		case i == a.len():
			fn(b.key(j))
			j++
		case string(a.key(i)) == string(b.key(j)):
			fn(a.key(i))
			i++
			j++
		case string(a.key(i)) < string(b.key(j)):
			fn(a.key(i))
			i++
		default:
			fn(b.key(j))
			j++
		}
	}
}
