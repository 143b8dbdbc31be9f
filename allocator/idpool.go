package allocator

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// pool picks free IDs: IDs of [min, max] (ORed with the prefix mask) that
// neither the cache, nor an allocation in flight, nor a recent conflict
// says are taken. It keeps no map of the whole range: a random start and a
// linear probe find a free ID quickly unless the range is nearly full, and
// visiting every ID proves it is exhausted.
type pool struct {
	min, max, mask ID

	mu       sync.Mutex
	inflight map[ID]struct{} // masked IDs reserved by allocations in progress
	// taken holds IDs a transaction found taken before the cache knew;
	// the cache's next event for the ID (or a resync) clears them.
	taken map[ID]struct{}
}

func newPool(min, max, mask ID) *pool {
	return &pool{min: min, max: max, mask: mask, inflight: map[ID]struct{}{}, taken: map[ID]struct{}{}}
}

// reserve returns a free masked ID and marks it in flight; release it with
// unreserve.
func (p *pool) reserve(c *cache) (ID, error) {
	size := uint64(p.max - p.min + 1) // 0 only for the full uint64 range
	p.mu.Lock()
	defer p.mu.Unlock()
	c.mu.RLock()
	defer c.mu.RUnlock()
	start := rand.Uint64()
	if size != 0 {
		start %= size
	}
	for i := uint64(0); size == 0 || i < size; i++ {
		off := start + i
		if size != 0 {
			off %= size
		}
		id := (p.min + ID(off)) | p.mask
		if _, ok := c.byID[id]; ok {
			continue
		}
		if _, ok := p.inflight[id]; ok {
			continue
		}
		if _, ok := p.taken[id]; ok {
			continue
		}
		p.inflight[id] = struct{}{}
		return id, nil
	}
	return NoID, fmt.Errorf("%w: every ID of [%d, %d] is in use", ErrRangeExhausted, p.min, p.max)
}

func (p *pool) unreserve(id ID) {
	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
}

// markTaken records that id is taken although the cache may not know yet.
func (p *pool) markTaken(id ID) {
	p.mu.Lock()
	p.taken[id] = struct{}{}
	p.mu.Unlock()
}

// seen is called for every cache change of id: the cache now speaks for it.
func (p *pool) seen(id ID) {
	p.mu.Lock()
	delete(p.taken, id)
	p.mu.Unlock()
}

// resynced forgets every hint.
func (p *pool) resynced() {
	p.mu.Lock()
	clear(p.taken)
	p.mu.Unlock()
}
