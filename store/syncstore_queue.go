package store

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/hivekv/kvstore"
)

// writeQueue orders the keys of a SyncStore that wait to be written: fifo
// holds those ready now, delayed those backing off after a failure. It is
// not safe for concurrent use (the store's mutex guards it).
//
// Bounds: a key is in at most one place (the store's entry states ensure
// it), so the ready keys are at most the keys the store owns, however often
// they change: updates of a queued key coalesce into its entry (latest value
// wins). The memory follows: the consumed head of fifo is reclaimed as the
// queue moves (compact), not only once it drains — under sustained load it
// may never drain — and heap items made stale by a later change of their key
// are pruned once they outnumber the live ones.
type writeQueue struct {
	fifo    []*entry
	head    int
	delayed delayHeap
	// live counts the heap items that are still their key's current
	// backoff (the key is stateDelayed with that retry number).
	live int
}

// compactMin is the consumed head below which fifo is not compacted: copying
// a handful of pointers more often than needed buys nothing.
const compactMin = 64

// push appends e to the ready keys and reports whether they were empty
// before (a worker may need waking).
func (q *writeQueue) push(e *entry) bool {
	wasEmpty := q.ready() == 0
	q.compact()
	q.fifo = append(q.fifo, e)
	return wasEmpty
}

// compact moves the ready keys to the front of fifo once the consumed head
// is at least half of it: each key is copied O(1) times on average, and the
// array never holds more than twice the ready keys (plus compactMin).
func (q *writeQueue) compact() {
	if q.head < compactMin || q.head < len(q.fifo)/2 {
		return
	}
	n := copy(q.fifo, q.fifo[q.head:])
	clear(q.fifo[n:])
	q.fifo, q.head = q.fifo[:n], 0
}

// ready is the number of keys ready to be written.
func (q *writeQueue) ready() int { return len(q.fifo) - q.head }

// peek returns the oldest ready key.
func (q *writeQueue) peek() *entry { return q.fifo[q.head] }

// pop removes the oldest ready key.
func (q *writeQueue) pop() *entry {
	e := q.fifo[q.head]
	q.fifo[q.head] = nil
	q.head++
	if q.head == len(q.fifo) {
		// Reuse the array once drained.
		q.fifo, q.head = q.fifo[:0], 0
	}
	return e
}

// delay schedules e for a retry at due.
func (q *writeQueue) delay(e *entry, due time.Time) {
	e.retry++
	q.live++
	heap.Push(&q.delayed, delayed{e: e, due: due, retry: e.retry})
	if len(q.delayed) > 2*q.live+compactMin {
		q.prune()
	}
}

// undelay records that a delayed key left its backoff early (it changed and
// was queued at once): its heap item is stale from now on.
func (q *writeQueue) undelay() { q.live-- }

// prune drops the stale heap items.
func (q *writeQueue) prune() {
	kept := q.delayed[:0]
	for _, d := range q.delayed {
		if d.current() {
			kept = append(kept, d)
		}
	}
	clear(q.delayed[len(kept):])
	q.delayed = kept
	heap.Init(&q.delayed)
}

// promote moves the delayed keys whose time has come to the ready keys and
// returns when the next delayed key is due (zero if none).
func (q *writeQueue) promote(now time.Time) time.Time {
	for len(q.delayed) > 0 {
		d := q.delayed[0]
		if d.due.After(now) {
			return d.due
		}
		heap.Pop(&q.delayed)
		// A key changed since it was delayed was queued at once; this
		// item of the heap is then stale.
		if d.current() {
			q.live--
			d.e.state = stateQueued
			q.push(d.e)
		}
	}
	return time.Time{}
}

type delayed struct {
	e     *entry
	due   time.Time
	retry uint32
}

// current reports whether d is still its key's backoff.
func (d delayed) current() bool { return d.e.state == stateDelayed && d.e.retry == d.retry }

// delayHeap is a min-heap of delayed keys by due time.
type delayHeap []delayed

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(delayed)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*h = old[:len(old)-1]
	return x
}

// jitter returns a factor in [¾, 1¼) for jittered: one per failed write, so
// that the keys of one batch retry together (as one batch again) while the
// stores of a fleet that failed together do not.
func jitter() float64 { return 0.75 + rand.Float64()/2 }

// jittered scales a retry delay by a jitter factor.
func jittered(d time.Duration, f float64) time.Duration { return time.Duration(float64(d) * f) }

// overloadRetryDelay is the least a write waits after the server said it is
// overloaded or timed out: retrying it within milliseconds, from every
// store of a fleet at once, is load exactly when the server is slowest
// (Cilium #22037) — and a timed-out write may well have been applied, so its
// retry is an extra write and an extra event for every watcher.
const overloadRetryDelay = time.Second

// retryDelayAfter is retryDelay(n), at least overloadRetryDelay after a
// write that timed out or was refused for load.
func retryDelayAfter[N uint16 | int](err error, n N) time.Duration {
	d := retryDelay(n)
	if overloaded(err) {
		d = max(d, overloadRetryDelay)
	}
	return d
}

// overloaded reports a timeout (ours or the server's "request timed out")
// or etcd's "too many requests". etcd's errors reach the store as text
// (wrapped by the client and gRPC), so its stable messages are matched.
func overloaded(err error) bool {
	if errors.Is(err, kvstore.ErrClientTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "request timed out") || strings.Contains(msg, "too many requests")
}
