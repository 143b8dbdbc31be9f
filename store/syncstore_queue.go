package store

import (
	"container/heap"
	"time"
)

// writeQueue orders the keys of a SyncStore that wait to be written: fifo
// holds those ready now, delayed those backing off after a failure. It is
// not safe for concurrent use (the store's mutex guards it).
type writeQueue struct {
	fifo    []*entry
	head    int
	delayed delayHeap
}

// push appends e to the ready keys and reports whether they were empty
// before (a worker may need waking).
func (q *writeQueue) push(e *entry) bool {
	wasEmpty := q.ready() == 0
	q.fifo = append(q.fifo, e)
	return wasEmpty
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
		// Reuse the array once drained; a long queue is not copied
		// while it drains.
		q.fifo, q.head = q.fifo[:0], 0
	}
	return e
}

// delay schedules e for a retry at due.
func (q *writeQueue) delay(e *entry, due time.Time) {
	e.retry++
	heap.Push(&q.delayed, delayed{e: e, due: due, retry: e.retry})
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
		// entry of the heap is then stale.
		if d.e.state == stateDelayed && d.e.retry == d.retry {
			d.e.state = stateQueued
			q.fifo = append(q.fifo, d.e)
		}
	}
	return time.Time{}
}

type delayed struct {
	e     *entry
	due   time.Time
	retry uint32
}

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
