package keyset

// Slot tags: empty, deleted, or 2..255 from the key's hash, so that a probe
// compares key bytes only when 8 bits of the hash already match.
const (
	tagEmpty = 0
	tagTomb  = 1
)

const minTableCap = 16

// table is an open-addressing hash table with linear probing of slab
// addresses. Deleting leaves a tombstone; tombstones go away when the table
// is migrated into its successor.
type table struct {
	tags []uint8
	offs []uint32
	used int // slots not empty: live keys and tombstones
}

func newTable(capacity int) table {
	return table{tags: make([]uint8, capacity), offs: make([]uint32, capacity)}
}

// capFor is the capacity that holds n keys at three quarters load.
func capFor(n int) int { return max(minTableCap, n+n/3+1) }

// full reports whether one more key would exceed 7/8 load: beyond that,
// linear probing's misses get long.
func (t *table) full() bool { return 8*(t.used+1) > 7*len(t.tags) }

func tagOf(h uint64) uint8 {
	if g := uint8(h); g > tagTomb {
		return g
	}
	return uint8(h>>8) | 2
}

// home maps the hash's high half onto [0, capacity) without a division.
func (t *table) home(h uint64) int { return int((h >> 32) * uint64(len(t.tags)) >> 32) }

// lookup returns the slot of the key (sfx, meta's stripped flag) with hash h,
// or -1 and the first slot an insert may take.
func (t *table) lookup(sl *slab, h uint64, sfx string, meta uint8) (at, free int) {
	n := len(t.tags)
	if n == 0 {
		return -1, -1
	}
	tag, free := tagOf(h), -1
	for i := t.home(h); ; {
		switch g := t.tags[i]; g {
		case tagEmpty:
			if free < 0 {
				free = i
			}
			return -1, free
		case tagTomb:
			if free < 0 {
				free = i
			}
		case tag:
			if sl.equal(t.offs[i], sfx, meta) {
				return i, free
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// place stores addr in slot i (which lookup returned as free).
func (t *table) place(i int, h uint64, addr uint32) {
	if t.tags[i] == tagEmpty {
		t.used++
	}
	t.tags[i], t.offs[i] = tagOf(h), addr
}

// insertAbsent stores a key known not to be in t.
func (t *table) insertAbsent(h uint64, addr uint32) {
	n := len(t.tags)
	for i := t.home(h); ; {
		if t.tags[i] <= tagTomb {
			t.place(i, h, addr)
			return
		}
		if i++; i == n {
			i = 0
		}
	}
}
