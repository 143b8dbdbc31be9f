package globalclient

import (
	"context"
	"fmt"
	"sync"

	"github.com/hivekv/kvstore"
)

// Slot is one generation of the global client.
//
// Contract: Setup runs its function at most once per Slot; Client and
// Connected may be called before, during and after Setup from any goroutine.
// The channel returned by Connected is closed at most once, when the client
// reports it is connected; it is never closed if the connection fails for
// good (the failure is logged and returned by Err).
type Slot struct {
	once     sync.Once
	setupErr error

	mu        sync.Mutex
	client    kvstore.BackendOperations
	connErr   error
	set       chan struct{} // closed once client or setupErr is known
	connected chan struct{} // closed once the client is connected
}

func newSlot() *Slot {
	return &Slot{set: make(chan struct{}), connected: make(chan struct{})}
}

var (
	mu  sync.Mutex
	cur = newSlot()
)

// Current returns the slot in use.
func Current() *Slot {
	mu.Lock()
	defer mu.Unlock()
	return cur
}

// Reset installs a fresh, empty slot and returns the previous one, whose
// client (if any) the caller may close. Goroutines already blocked in the
// previous slot's Client keep waiting on that slot. Only tests call Reset.
func Reset() *Slot {
	mu.Lock()
	defer mu.Unlock()
	prev := cur
	cur = newSlot()
	return prev
}

// Setup runs create once per slot. create returns the client (nil when the
// configuration is invalid), the connection error channel of NewClient, and
// is expected to return quickly. Later calls return the first call's error
// and change nothing. onConnErr is called (from a goroutine) if the
// connection fails for good.
func (s *Slot) Setup(create func() (kvstore.BackendOperations, <-chan error), onConnErr func(error)) error {
	s.once.Do(func() {
		c, errCh := create()
		if c == nil {
			err := <-errCh
			if err == nil {
				err = fmt.Errorf("%w: no client created", kvstore.ErrInvalidConfig)
			}
			s.setupErr = err
			close(s.set)
			return
		}
		s.mu.Lock()
		s.client = c
		s.mu.Unlock()
		close(s.set)
		go s.awaitConnection(c, errCh, onConnErr)
	})
	return s.setupErr
}

// awaitConnection closes connected once c is connected with quorum.
func (s *Slot) awaitConnection(c kvstore.BackendOperations, errCh <-chan error, onConnErr func(error)) {
	err := <-errCh
	if err == nil {
		// The channel closed: the first session exists. Connected also
		// covers the quorum check, and fails fast if the client was closed.
		err = <-c.Connected(context.Background())
	}
	if err != nil {
		s.mu.Lock()
		s.connErr = err
		s.mu.Unlock()
		if onConnErr != nil {
			onConnErr(err)
		}
		return
	}
	close(s.connected)
}

// Client waits until Setup created the client or failed, or ctx ends.
func (s *Slot) Client(ctx context.Context) (kvstore.BackendOperations, error) {
	select {
	case <-s.set:
	case <-ctx.Done():
		return nil, kvstore.Hint(ctx.Err())
	}
	if s.setupErr != nil {
		return nil, s.setupErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client, nil
}

// Connected returns the channel closed once the client is connected.
func (s *Slot) Connected() <-chan struct{} { return s.connected }

// Err returns why the initial connection failed, or nil.
func (s *Slot) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connErr
}

// Peek returns the client without waiting; nil before Setup.
func (s *Slot) Peek() kvstore.BackendOperations {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}
