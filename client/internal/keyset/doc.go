// Package keyset is the memory of a ListAndWatch: the set of keys the
// consumer was told about and not told were deleted. The watcher consults it
// on every event (a Put of a key it does not hold is a Create, otherwise a
// Modify; a Delete of a key it does not hold is dropped) and, after a resync,
// asks it which keys the new list did not return, to report them as Deleted.
//
// A watched prefix can hold a million keys, so the set must be small and its
// cost per event must not grow with its size:
//
//   - Keys are stored once, back to back, in byte slabs of fixed-size chunks
//     (without the watched prefix they all share), not as a Go string each.
//     A record costs its key's bytes plus two (a length byte more per 7
//     bits of length beyond 127 bytes).
//   - An open-addressing hash table of 4-byte slab addresses and 1-byte hash
//     tags finds them: five bytes per slot, at most 7/8 of the slots in use.
//   - Nothing is ever rebuilt in one go on the delivery path. A table that
//     must grow or shrink is migrated into its successor a few slots per
//     operation; a chunk that deletions left less than half full is
//     evacuated a few records per operation. Each operation does a bounded
//     amount of such work, whatever the number of keys.
//   - A resync marks keys with the list attempt's epoch instead of copying
//     the set: starting a list is O(1) (O(n) once per 126 lists, when the
//     epoch counter wraps), and the sweep walks the slabs once.
//
// A Set is not safe for concurrent use; the watcher goroutine owns it.
package keyset
