package client

import (
	"context"
	"fmt"
	"sync"

	"github.com/hivekv/kvstore"
)

// statusState is the etcd client's health bookkeeping.
type statusState struct {
	mu       sync.Mutex
	snapshot kvstore.Status
	errs     chan error // StatusCheckErrors; closed by Close
}

func (c *etcdClient) initStatus() {
	c.status.snapshot = kvstore.Status{State: kvstore.StateWarning, Msg: "Waiting for initial connection to be established"}
	c.status.errs = make(chan error, 128)
}

// connectFailed records a failed initial connection.
func (s *statusState) connectFailed(err error) {
	s.set(kvstore.Status{State: kvstore.StateFailure, Msg: "Failed to establish initial connection: " + err.Error()})
	s.report(err)
}

func (s *statusState) set(st kvstore.Status) {
	s.mu.Lock()
	s.snapshot = st
	s.mu.Unlock()
}

// report sends err to StatusCheckErrors without blocking.
func (s *statusState) report(err error) {
	select {
	case s.errs <- err:
	default:
	}
}

// onConnected runs once the first session is established.
func (c *etcdClient) onConnected() {
	c.status.set(kvstore.Status{State: kvstore.StateOK, Msg: fmt.Sprintf("etcd: connected to %s", c.endpointsString())})
}

// closeStatus runs in Close after the background goroutines have exited.
func (c *etcdClient) closeStatus() { close(c.status.errs) }

// Status implements kvstore.BackendOperations.
func (c *etcdClient) Status() *kvstore.Status {
	c.status.mu.Lock()
	defer c.status.mu.Unlock()
	st := c.status.snapshot
	return &st
}

// StatusCheckErrors implements kvstore.BackendOperations.
func (c *etcdClient) StatusCheckErrors() <-chan error { return c.status.errs }

// Connected implements kvstore.BackendOperations.
func (c *etcdClient) Connected(ctx context.Context) <-chan error {
	out := make(chan error, 1)
	go func() {
		defer close(out)
		select {
		case <-c.firstSession:
			if c.sessionErr != nil {
				out <- c.sessionErr
			}
		case <-ctx.Done():
			out <- ctx.Err()
		case <-c.ctx.Done():
			out <- kvstore.ErrClientClosed
		}
	}()
	return out
}

// Disconnected implements kvstore.BackendOperations.
func (c *etcdClient) Disconnected() <-chan struct{} {
	select {
	case <-c.firstSession:
	case <-c.ctx.Done():
		return c.ctx.Done()
	}
	if c.sessionErr != nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	s, err := c.lockLeases.GetSession(c.ctx, kvstore.InitLockPath)
	if err != nil {
		closed := make(chan struct{})
		close(closed)
		return closed
	}
	return s.Done()
}
