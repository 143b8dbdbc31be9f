package client

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/internal/globalclient"
)

// The global layer serves programs that do not use hive, in the style of
// Cilium's pkg/kvstore before v1.18: one process-wide default client, set up
// once, reachable from anywhere. Hive programs use the cells package instead,
// which provides the client through the dependency graph.
//
// Once per process: the first Setup wins and no API here replaces or removes
// the client. Tests that need a fresh global client per test use
// hivetest.SetupDummy, which resets the global state through an internal
// package (internal/globalclient) that code outside this module cannot reach.

// Setup creates the process-wide default client of backend with opts (the
// --kvstore-opt map) and extra (may be nil), and returns at once: the
// connection is established in the background; Connected tells when it is
// ready.
//
// Setup has effect only once per process: later calls change nothing and
// return the first call's result. It returns an error, and sets no client,
// when the backend or an option is invalid. A connection that fails later
// (unreachable store, refused credentials, --kvstore-connectivity-timeout
// passed) is logged at error level through extra's logger and Connected is
// then never closed.
//
// ctx bounds the initial connection attempt: pass a context that outlives it,
// usually context.Background(), not one cancelled when the caller returns.
func Setup(ctx context.Context, backend string, opts map[string]string, extra *kvstore.ExtraOptions) error {
	log := extra.Log("kvstore").WithField("backend", backend)
	err := globalclient.Current().Setup(
		func() (kvstore.BackendOperations, <-chan error) {
			log.Info("Creating the global kvstore client")
			return NewClient(ctx, backend, opts, extra)
		},
		func(err error) {
			log.WithError(err).Error("Unable to connect to kvstore")
		},
	)
	if err != nil {
		return fmt.Errorf("setting up the global kvstore client: %w", err)
	}
	return nil
}

// Client returns the global client, waiting for Setup to be called. It
// panics if Setup failed: there is no client to return, and waiting forever
// would hide the mistake. Use ClientCtx to bound the wait or to get the error.
func Client() kvstore.BackendOperations {
	c, err := ClientCtx(context.Background())
	if err != nil {
		panic(fmt.Sprintf("kvstore: global client unavailable: %v", err))
	}
	return c
}

// ClientCtx returns the global client, waiting for Setup to be called or ctx
// to end. It returns Setup's error if Setup failed. The client may not be
// connected yet; its operations wait for the connection (bounded by their
// ctx).
func ClientCtx(ctx context.Context) (kvstore.BackendOperations, error) {
	return globalclient.Current().Client(ctx)
}

// Connected returns a channel that is closed once the global client is
// connected and the store has quorum. If the connection fails for good the
// channel is never closed (the failure is logged by Setup). Calling Connected
// before Setup is fine: the channel belongs to the global client to come.
func Connected() <-chan struct{} {
	return globalclient.Current().Connected()
}
