package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limiter bounds the rate and the concurrency of requests. The zero value is
// not usable; a nil *Limiter lets everything through, which keeps call sites
// free of nil checks.
type Limiter struct {
	bucket   *rate.Limiter
	inflight chan struct{} // nil: unbounded

	acquires   atomic.Int64 // requests admitted by Acquire
	waits      atomic.Int64 // requests that had to wait for a token
	waitedNano atomic.Int64 // total delay handed out by the bucket
	maxWait    atomic.Int64 // longest single delay
}

// New returns a limiter allowing qps requests per second with a burst of
// qps, and at most maxInflight concurrent requests (0 = qps).
func New(qps, maxInflight int) *Limiter {
	if maxInflight <= 0 {
		maxInflight = qps
	}
	return &Limiter{
		bucket:   rate.NewLimiter(rate.Limit(qps), qps),
		inflight: make(chan struct{}, maxInflight),
	}
}

// Acquire waits for a token and an inflight slot. On success the caller must
// call Release once the request has finished. On ctx's end it returns an
// error wrapping ctx's error and holds nothing.
func (l *Limiter) Acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	if err := l.waitToken(ctx); err != nil {
		return err
	}
	select {
	case l.inflight <- struct{}{}:
		l.acquires.Add(1)
		return nil
	default:
	}
	select {
	case l.inflight <- struct{}{}:
		l.acquires.Add(1)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a free request slot: %w", ctx.Err())
	}
}

// Release frees the inflight slot taken by Acquire.
func (l *Limiter) Release() {
	if l == nil {
		return
	}
	<-l.inflight
}

// waitToken is rate.Limiter.Wait with accounting of the delays, so that tests
// and metrics can see how much the limiter held requests back.
func (l *Limiter) waitToken(ctx context.Context) error {
	// Fast path without allocation: a token is available now.
	if l.bucket.Allow() {
		return nil
	}
	r := l.bucket.Reserve()
	if !r.OK() {
		return fmt.Errorf("rate limiter: burst too small")
	}
	delay := r.Delay()
	if delay <= 0 {
		return nil
	}
	l.waits.Add(1)
	l.waitedNano.Add(int64(delay))
	for {
		cur := l.maxWait.Load()
		if int64(delay) <= cur || l.maxWait.CompareAndSwap(cur, int64(delay)) {
			break
		}
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return fmt.Errorf("waiting for the client rate limiter: %w", ctx.Err())
	}
}

// SetQPS changes the rate; the burst stays as it was created.
func (l *Limiter) SetQPS(qps int) {
	if l == nil {
		return
	}
	l.bucket.SetLimit(rate.Limit(qps))
}

// QPS returns the current rate.
func (l *Limiter) QPS() float64 {
	if l == nil {
		return 0
	}
	return float64(l.bucket.Limit())
}

// Burst returns the bucket size: how many requests may pass at once after a
// quiet period.
func (l *Limiter) Burst() int {
	if l == nil {
		return 0
	}
	return l.bucket.Burst()
}

// MaxInflight returns the bound on concurrent requests.
func (l *Limiter) MaxInflight() int {
	if l == nil {
		return 0
	}
	return cap(l.inflight)
}

// Inflight returns how many requests hold a slot right now.
func (l *Limiter) Inflight() int {
	if l == nil {
		return 0
	}
	return len(l.inflight)
}

// Stats reports how many requests were admitted, how many of them had to
// wait for a token, the total delay the bucket imposed, and the longest single
// delay. The counters only grow.
type Stats struct {
	Acquires int64
	Waits    int64
	Waited   time.Duration
	MaxWait  time.Duration
}

// Stats returns the accumulated waits.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{
		Acquires: l.acquires.Load(),
		Waits:    l.waits.Load(),
		Waited:   time.Duration(l.waitedNano.Load()),
		MaxWait:  time.Duration(l.maxWait.Load()),
	}
}
