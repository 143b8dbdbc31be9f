package backoff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults used when Min or Max are zero: a first retry after about 50 ms,
// never more than a minute apart.
const (
	DefaultMin = 50 * time.Millisecond
	DefaultMax = time.Minute
)

// jitterSpread is the relative width of the jitter window: a wait lands
// uniformly in [base·(1-spread/2), base·(1+spread/2)), then clamped to
// [Min, Max], so that clients sharing a schedule drift apart.
const jitterSpread = 0.5

// Backoff computes the waits between consecutive failures. Attempt n waits
// about Min·2ⁿ (stretched by Scale), jittered and clamped to [Min, Max].
// Reset after a success starts again from Min.
//
// A Backoff is not safe for concurrent use: each retry loop owns its own.
type Backoff struct {
	// Min is the first wait (0 = DefaultMin).
	Min time.Duration
	// Max bounds every wait (0 = DefaultMax).
	Max time.Duration
	// Scale, if set, stretches each base wait before jitter and clamping,
	// e.g. with the cluster size so that large clusters retry less often.
	Scale func(time.Duration) time.Duration
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests set it
	// to make the jitter predictable.
	Rand func() float64

	attempt int
}

// Attempt returns how many waits were handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts the schedule again from Min: call it after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Next returns the wait before the next retry and advances the schedule.
func (b *Backoff) Next() time.Duration {
	d := b.Delay(b.attempt)
	b.attempt++
	return d
}

// Delay returns the wait after the n-th consecutive failure (n counted from
// 0), jittered, without touching the schedule: for callers that keep the
// failure count themselves, such as a queue with one count per item. A
// Backoff used only through Delay is safe for concurrent use when Rand is.
func (b *Backoff) Delay(n int) time.Duration {
	lo, hi := b.bounds()
	base := lo
	// Doubling stops once the base reached Max: later attempts stay at the
	// cap instead of overflowing.
	for i := 0; i < n && base < hi; i++ {
		base *= 2
	}
	if b.Scale != nil {
		base = b.Scale(base)
	}
	return b.jitter(base)
}

// Jitter spreads d like a wait of the schedule, clamped to [Min, Max]. It
// does not advance the schedule.
func (b *Backoff) Jitter(d time.Duration) time.Duration { return b.jitter(d) }

func (b *Backoff) jitter(base time.Duration) time.Duration {
	lo, hi := b.bounds()
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	d := time.Duration(float64(base) * (1 - jitterSpread/2 + jitterSpread*r()))
	return min(max(d, lo), hi)
}

func (b *Backoff) bounds() (lo, hi time.Duration) {
	lo, hi = b.Min, b.Max
	if lo <= 0 {
		lo = DefaultMin
	}
	if hi <= 0 {
		hi = DefaultMax
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Wait sleeps for Next() or until ctx ends, in which case it returns an
// error wrapping ctx's error.
func (b *Backoff) Wait(ctx context.Context) error {
	return Sleep(ctx, b.Next())
}

// Sleep waits d or until ctx ends, in which case it returns an error
// wrapping ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("backing off for %s: %w", d, ctx.Err())
	}
}
