package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hivekv/kvstore"
)

// opTimeout bounds each operation of a workload. Faults make operations
// time out; their outcome is then unknown, which the model handles.
const opTimeout = time.Second

// thinkTime is the pause between a worker's operations, which keeps
// histories small enough to check in well under a second per key.
func thinkTime(rng *rand.Rand) time.Duration {
	return time.Duration(5+rng.IntN(10)) * time.Millisecond
}

// workerRand is the generator of one worker of a seeded run.
func workerRand(seed int64, worker int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), uint64(worker)+1))
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// KVWorker issues random Get, Update, Delete, CreateOnly and
// UpdateIfDifferent operations on keys until ctx ends. Values are unique
// per worker and operation, except that UpdateIfDifferent sometimes writes
// the value the worker last read, to exercise its "same value" branch.
// client returns the worker's current client: a scenario that restarts
// clients swaps it underneath.
func KVWorker(ctx context.Context, seed int64, worker int, keys []string, client func() *Client) {
	rng := workerRand(seed, worker)
	lastRead := map[string]string{}
	for n := 0; ctx.Err() == nil; n++ {
		c := client()
		key := keys[rng.IntN(len(keys))]
		value := []byte(fmt.Sprintf("w%d-%d", worker, n))
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		switch p := rng.IntN(100); {
		case p < 30:
			if v, err := c.Get(octx, key); err == nil && v != nil {
				lastRead[key] = string(v)
			}
		case p < 55:
			_ = c.Update(octx, key, value, false)
		case p < 65:
			_ = c.Delete(octx, key)
		case p < 80:
			_, _ = c.CreateOnly(octx, key, value, false)
		default:
			if prev, ok := lastRead[key]; ok && rng.IntN(2) == 0 {
				value = []byte(prev)
			}
			_, _ = c.UpdateIfDifferent(octx, key, value, false)
		}
		cancel()
		sleepCtx(ctx, thinkTime(rng))
	}
}

// LockWorker takes the lock on path, runs a few fenced operations on keys
// as its critical section, and unlocks, until ctx ends. A fenced operation
// that reports the lock lost ends the critical section early.
func LockWorker(ctx context.Context, seed int64, worker int, path string, keys []string, c *Client) {
	rng := workerRand(seed, worker)
	for n := 0; ctx.Err() == nil; {
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l, err := c.LockPath(lctx, path)
		cancel()
		if err != nil {
			sleepCtx(ctx, thinkTime(rng))
			continue
		}
		for range 2 + rng.IntN(4) {
			n++
			if !lockedOp(ctx, rng, c, l, keys[rng.IntN(len(keys))], fmt.Sprintf("w%d-%d", worker, n)) {
				break
			}
			sleepCtx(ctx, thinkTime(rng))
		}
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
		_ = c.Unlock(uctx, l)
		cancel()
		sleepCtx(ctx, thinkTime(rng))
	}
}

// lockedOp runs one random fenced operation; it reports whether the lock
// is still worth using.
func lockedOp(ctx context.Context, rng *rand.Rand, c *Client, l *Lock, key, value string) bool {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	var err error
	switch p := rng.IntN(100); {
	case p < 25:
		_, err = c.GetIfLocked(octx, key, l)
	case p < 60:
		err = c.UpdateIfLocked(octx, key, []byte(value), false, l)
	case p < 70:
		err = c.DeleteIfLocked(octx, key, l)
	case p < 85:
		_, err = c.CreateOnlyIfLocked(octx, key, []byte(value), false, l)
	default:
		_, err = c.UpdateIfDifferentIfLocked(octx, key, []byte(value), false, l)
	}
	return !errors.Is(err, kvstore.ErrLockLeaseExpired) && ctx.Err() == nil
}

// group runs goroutines and waits for them.
type group struct{ wg sync.WaitGroup }

func (g *group) Go(fn func()) { g.wg.Go(fn) }
func (g *group) Wait()        { g.wg.Wait() }
