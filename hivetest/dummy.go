package hivetest

import (
	"context"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/internal/globalclient"
)

// dummyConnectTimeout bounds how long SetupDummy waits for the global client
// to connect; an embedded server answers in milliseconds, so reaching it
// means something is broken.
const dummyConnectTimeout = 30 * time.Second

// dummyQPS is the rate limit SetupDummy clients use unless the test sets
// etcd.qps: the production default of 20 would make tests wait on the limiter.
const dummyQPS = "1000"

// dummyActive is set while a SetupDummy client is installed.
var dummyActive atomic.Bool

// SetupDummy installs a fresh global client (client.Setup, client.Client,
// client.Connected) of backend for the rest of the test and returns it, for
// code written against the global layer rather than hive:
//
//   - "etcd": a client of the package's SharedServer, with etcd.qps=1000;
//   - "in-memory": a client of an in-memory store private to this test.
//
// It waits until the client is connected. When the test ends it deletes
// every key of the store, closes the client and removes it from the global
// layer, so the next test starts from an empty store and may call SetupDummy
// again (in production the global client is set up once per process; the
// reset goes through an internal package only this module can use).
//
// Because the global client is one per process and the whole store is wiped
// at the end, SetupDummy must not be used from parallel tests: it fails the
// test if another test's dummy client is still installed. Wiping the shared
// server does not disturb parallel tests of the same package, because Go
// starts top-level parallel tests only after the sequential ones returned.
func SetupDummy(tb testing.TB, backend string) kvstore.BackendOperations {
	tb.Helper()
	return SetupDummyWithConfigOpts(tb, backend, nil)
}

// SetupDummyWithConfigOpts is SetupDummy with extra --kvstore-opt options,
// which win over the defaults above (an etcd.address or etcd.config in opts
// replaces the shared server, an in-memory.store in opts the private store).
func SetupDummyWithConfigOpts(tb testing.TB, backend string, opts map[string]string) kvstore.BackendOperations {
	tb.Helper()
	merged := map[string]string{}
	switch backend {
	case kvstore.EtcdBackendName:
		if opts[kvstore.EtcdAddrOption] == "" && opts[kvstore.EtcdOptionConfig] == "" {
			merged[kvstore.EtcdAddrOption] = SharedServer(tb).Endpoint()
		}
		merged[kvstore.EtcdRateLimitOption] = dummyQPS
	case kvstore.InMemoryBackendName:
		merged[kvstore.InMemoryStoreOption] = "dummy-" + sanitize(tb.Name()) + "-" + randomHex(4)
	default:
		tb.Fatalf("hivetest: unknown dummy kvstore backend %q: use one of %v", backend, kvstore.Backends)
	}
	maps.Copy(merged, opts)

	if !dummyActive.CompareAndSwap(false, true) {
		tb.Fatalf("hivetest: SetupDummy: another test's global client is still installed; " +
			"tests using SetupDummy must not run in parallel")
	}
	prev := globalclient.Reset()
	if c := prev.Peek(); c != nil {
		// A global client set up outside SetupDummy: it is replaced for
		// this test, so close it rather than leak its connection.
		c.Close()
	}
	tb.Cleanup(func() {
		defer dummyActive.Store(false)
		slot := globalclient.Reset()
		c := slot.Peek()
		if c == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), dummyConnectTimeout)
		defer cancel()
		if err := c.DeletePrefix(ctx, ""); err != nil {
			tb.Errorf("hivetest: SetupDummy: wiping the store: %v", err)
		}
		c.Close()
	})

	extra := &kvstore.ExtraOptions{ConnectivityTimeout: dummyConnectTimeout}
	if err := client.Setup(context.Background(), backend, merged, extra); err != nil {
		tb.Fatalf("hivetest: SetupDummy: %v", err)
	}
	c := client.Client()
	ctx, cancel := context.WithTimeout(context.Background(), dummyConnectTimeout)
	defer cancel()
	if err := <-c.Connected(ctx); err != nil {
		tb.Fatalf("hivetest: SetupDummy: %s client did not connect: %v", backend, err)
	}
	// The global Connected channel follows the client's; wait for it too,
	// so that code under test sees a connected global layer.
	select {
	case <-client.Connected():
	case <-ctx.Done():
		tb.Fatalf("hivetest: SetupDummy: the global Connected channel was not closed")
	}
	return c
}
