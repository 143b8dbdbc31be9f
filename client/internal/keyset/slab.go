package keyset

import (
	"encoding/binary"
	"unsafe"
)

// A record is one key in a slab chunk:
//
//	meta byte | uvarint length | key bytes (without the set's prefix if stripped)
//
// meta holds the stripped flag (bit 7) and a 7-bit mark: markReset, the
// epoch of the list attempt that last saw the key, or markDead. Records are
// never written after they were appended, except for meta.
const (
	metaStripped = 0x80
	markMask     = 0x7f
	markReset    = 0
	markDead     = markMask
	maxEpoch     = markDead - 1
)

// An address is chunk<<chunkBits | position of the record in the chunk.
const (
	chunkBits = 15
	chunkSize = 1 << chunkBits // bytes of a full chunk
	maxChunks = 1 << (32 - chunkBits)
	// firstChunkCap is the capacity a set's first chunk starts with, so
	// that a watcher of a handful of keys does not hold a whole chunk.
	firstChunkCap = 256
)

// Chunk states.
const (
	chunkInUse  = iota
	chunkQueued // waiting in evac to have its live records moved out
	chunkFree   // nil, its index in free
)

// slab stores the records. Small records are appended to the tail chunk;
// a record larger than a quarter chunk gets a chunk of its own. A chunk
// other than the tail whose live bytes fall under half its length is
// queued for evacuation: its live records move to the tail, a few per
// operation (see Set.work), and the chunk is freed.
type slab struct {
	chunks [][]byte
	live   []uint32 // live record bytes per chunk
	state  []uint8
	free   []uint32
	tail   int // chunk receiving small records; -1 if none
	// evac lists queued chunks; evacPos is the position of the next
	// record to look at in evac[0].
	evac    []uint32
	evacPos int

	// frozen defers freeing and queueing chunks while a walk holds
	// positions in them (Set.Sweep); thaw catches up.
	frozen bool

	// chunkCap and limit are chunkSize and maxChunks except in tests,
	// which shrink them to reach evacuation and exhaustion with few keys.
	chunkCap, limit int
}

func newSlab() slab { return slab{tail: -1, chunkCap: chunkSize, limit: maxChunks} }

func split(addr uint32) (chunk, pos int) { return int(addr >> chunkBits), int(addr & (chunkSize - 1)) }

func join(chunk, pos int) uint32 { return uint32(chunk)<<chunkBits | uint32(pos) }

// recordAt decodes the record at addr: its meta byte's position, its key
// bytes and its total size in the chunk.
func (s *slab) recordAt(addr uint32) (chunk []byte, pos int, key []byte, size int) {
	c, pos := split(addr)
	chunk = s.chunks[c]
	n, w := binary.Uvarint(chunk[pos+1:])
	start := pos + 1 + w
	return chunk, pos, chunk[start : start+int(n)], 1 + w + int(n)
}

// view returns the key bytes of the record at addr as a string without
// copying them, and its meta byte. The string must not outlive the record's
// chunk: it is only used for hashing and comparisons while the chunk is
// neither freed nor moved (records' key bytes are never rewritten).
func (s *slab) view(addr uint32) (sfx string, meta uint8) {
	chunk, pos, key, _ := s.recordAt(addr)
	if len(key) == 0 {
		return "", chunk[pos]
	}
	return unsafe.String(&key[0], len(key)), chunk[pos]
}

func (s *slab) meta(addr uint32) *uint8 {
	c, pos := split(addr)
	return &s.chunks[c][pos]
}

// equal reports whether the record at addr holds sfx with that stripped flag.
func (s *slab) equal(addr uint32, sfx string, meta uint8) bool {
	chunk, pos, key, _ := s.recordAt(addr)
	return chunk[pos]&metaStripped == meta&metaStripped && string(key) == sfx
}

// add appends a record and returns its address, or false when the chunk
// address space is exhausted (4 GiB of keys).
func (s *slab) add(sfx string, meta uint8) (uint32, bool) {
	size := 1 + uvarintLen(len(sfx)) + len(sfx)
	var c int
	if size > s.chunkCap/4 {
		var ok bool
		if c, ok = s.newChunk(size); !ok {
			return 0, false
		}
	} else {
		if s.tail < 0 || len(s.chunks[s.tail])+size > s.chunkCap {
			if s.tail >= 0 {
				t := s.tail
				s.tail = -1
				s.settle(t)
			}
			first := s.tail < 0 && len(s.chunks) == len(s.free)
			capacity := s.chunkCap
			if first {
				capacity = min(s.chunkCap, max(firstChunkCap, 2*size))
			}
			var ok bool
			if s.tail, ok = s.newChunk(capacity); !ok {
				s.tail = -1
				return 0, false
			}
		}
		c = s.tail
		if chunk := s.chunks[c]; cap(chunk)-len(chunk) < size {
			// Only a first chunk starts small; it grows by copying, which
			// keeps every address since they are relative to the chunk.
			grown := make([]byte, len(chunk), min(s.chunkCap, max(2*cap(chunk), len(chunk)+size)))
			copy(grown, chunk)
			s.chunks[c] = grown
		}
	}
	chunk := s.chunks[c]
	pos := len(chunk)
	chunk = append(chunk, meta)
	chunk = binary.AppendUvarint(chunk, uint64(len(sfx)))
	chunk = append(chunk, sfx...)
	s.chunks[c] = chunk
	s.live[c] += uint32(size)
	return join(c, pos), true
}

func uvarintLen(n int) int {
	w := 1
	for ; n >= 0x80; n >>= 7 {
		w++
	}
	return w
}

func (s *slab) newChunk(capacity int) (int, bool) {
	buf := make([]byte, 0, capacity)
	if n := len(s.free); n > 0 {
		c := int(s.free[n-1])
		s.free = s.free[:n-1]
		s.chunks[c], s.live[c], s.state[c] = buf, 0, chunkInUse
		return c, true
	}
	if len(s.chunks) >= s.limit {
		return 0, false
	}
	s.chunks = append(s.chunks, buf)
	s.live = append(s.live, 0)
	s.state = append(s.state, chunkInUse)
	return len(s.chunks) - 1, true
}

// kill marks the record at addr dead.
func (s *slab) kill(addr uint32) {
	chunk, pos, _, size := s.recordAt(addr)
	chunk[pos] = chunk[pos]&metaStripped | markDead
	c, _ := split(addr)
	s.live[c] -= uint32(size)
	if !s.frozen {
		s.settle(c)
	}
}

// settle frees chunk c if it holds no live record, or queues it for
// evacuation if it is less than half live. The tail is left alone (it is
// refilled instead), and so is a queued chunk (evacuation frees it).
func (s *slab) settle(c int) {
	if s.state[c] != chunkInUse {
		return
	}
	if c == s.tail {
		if s.live[c] == 0 {
			s.chunks[c] = s.chunks[c][:0]
		}
		return
	}
	switch {
	case s.live[c] == 0:
		s.release(c)
	case 2*int(s.live[c]) < len(s.chunks[c]):
		s.state[c] = chunkQueued
		s.evac = append(s.evac, uint32(c))
	}
}

func (s *slab) release(c int) {
	s.chunks[c], s.state[c] = nil, chunkFree
	s.free = append(s.free, uint32(c))
}

// thaw ends a frozen walk: it settles every chunk the walk left emptier.
func (s *slab) thaw() {
	s.frozen = false
	for c := range s.chunks {
		s.settle(c)
	}
}

// walk calls fn with the address and meta byte of every live record in
// chunk order until fn returns false. fn may kill records (the slab must be
// frozen then) but not add any.
func (s *slab) walk(fn func(addr uint32, meta uint8) bool) bool {
	for c, chunk := range s.chunks {
		for pos := 0; pos < len(chunk); {
			meta := chunk[pos]
			n, w := binary.Uvarint(chunk[pos+1:])
			if meta&markMask != markDead && !fn(join(c, pos), meta) {
				return false
			}
			pos += 1 + w + int(n)
		}
	}
	return true
}

// nextToEvacuate returns the address of the next live record of the chunk
// being evacuated, skipping dead ones (each skip costs one unit of budget),
// and releases chunks whose records have all gone. It returns false when
// nothing is queued or the budget ran out.
func (s *slab) nextToEvacuate(budget *int) (uint32, bool) {
	for len(s.evac) > 0 && *budget > 0 {
		c := int(s.evac[0])
		chunk := s.chunks[c]
		if s.live[c] == 0 || s.evacPos >= len(chunk) {
			s.evac = s.evac[1:]
			s.evacPos = 0
			if len(s.evac) == 0 {
				s.evac = nil // give back the queue's array
			}
			if s.live[c] == 0 {
				s.release(c)
			} else {
				// Address space ran out while moving: keep it.
				s.state[c] = chunkInUse
			}
			continue
		}
		pos := s.evacPos
		n, w := binary.Uvarint(chunk[pos+1:])
		s.evacPos += 1 + w + int(n)
		*budget--
		if chunk[pos]&markMask != markDead {
			return join(c, pos), true
		}
	}
	return 0, false
}

// abandonEvacuation stops evacuating the current chunk (the address space is
// full, so its records have nowhere to go).
func (s *slab) abandonEvacuation() {
	if len(s.evac) > 0 {
		s.evacPos = len(s.chunks[s.evac[0]])
	}
}
