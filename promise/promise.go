package promise

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrNilRejection is the error a promise is rejected with when Reject is
// called with a nil error. A rejection must be distinguishable from a
// resolution with the zero value, so it never carries a nil error.
var ErrNilRejection = errors.New("promise: rejected with a nil error")

// Promise is a value that becomes available once, later.
//
// Await blocks until the promise is settled and returns the value it was
// resolved with, or (zero value, error) if it was rejected. Once settled, the
// result never changes and Await returns it at once, without regard to ctx.
// If ctx ends before the promise settles, Await returns (zero value,
// ctx.Err()); the promise itself is unaffected and can be awaited again.
//
// Any number of goroutines may call Await concurrently. Await starts no
// goroutine, so an abandoned Await leaks nothing.
type Promise[T any] interface {
	Await(ctx context.Context) (T, error)
}

// Resolver settles the Promise it was created with.
//
// The first call to Resolve or Reject settles the promise; every later call is
// ignored. Neither method ever blocks or panics, so a producer may call them
// from any goroutine, including several at once, and need not track whether it
// has already settled. Reject(nil) counts as a rejection with ErrNilRejection.
type Resolver[T any] interface {
	Resolve(T)
	Reject(error)
}

// New returns a pending promise and the resolver that settles it.
func New[T any]() (Resolver[T], Promise[T]) {
	p := &promise[T]{done: make(chan struct{})}
	return p, p
}

// Resolved returns a promise already resolved with v.
func Resolved[T any](v T) Promise[T] {
	p := &promise[T]{done: closedChan, value: v}
	p.settled.Store(true)
	return p
}

// Rejected returns a promise already rejected with err (ErrNilRejection if
// err is nil).
func Rejected[T any](err error) Promise[T] {
	if err == nil {
		err = ErrNilRejection
	}
	p := &promise[T]{done: closedChan, err: err}
	p.settled.Store(true)
	return p
}

// closedChan is shared by every promise created already settled, so that
// Resolved and Rejected allocate only the promise itself.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// promise implements both Promise and Resolver.
//
// value and err are written only by the goroutine that wins the settled
// compare-and-swap, before it closes done; they are read only after done is
// closed. Closing a channel happens before a receive that observes it
// closed, so readers need no lock.
type promise[T any] struct {
	settled atomic.Bool
	done    chan struct{}
	value   T
	err     error
}

func (p *promise[T]) Resolve(v T) {
	if !p.settled.CompareAndSwap(false, true) {
		return
	}
	p.value = v
	close(p.done)
}

func (p *promise[T]) Reject(err error) {
	if !p.settled.CompareAndSwap(false, true) {
		return
	}
	if err == nil {
		err = ErrNilRejection
	}
	p.err = err
	close(p.done)
}

func (p *promise[T]) Await(ctx context.Context) (T, error) {
	// Check done first on its own: a select with both channels ready picks
	// at random, and a settled promise must win over an ended ctx.
	select {
	case <-p.done:
		return p.value, p.err
	default:
	}
	select {
	case <-p.done:
		return p.value, p.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Map returns a promise that settles with fn applied to the value of p, or
// with p's error. fn runs on every successful Await of the returned promise
// (nothing is cached), so it should be cheap and free of side effects.
func Map[A, B any](p Promise[A], fn func(A) B) Promise[B] {
	return mapped[A, B]{p: p, fn: fn}
}

type mapped[A, B any] struct {
	p  Promise[A]
	fn func(A) B
}

func (m mapped[A, B]) Await(ctx context.Context) (B, error) {
	a, err := m.p.Await(ctx)
	if err != nil {
		var zero B
		return zero, err
	}
	return m.fn(a), nil
}
