package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/internal/globalclient"
)

// freshGlobal gives the test an empty global layer and closes whatever
// client the test set up when it ends.
func freshGlobal(t *testing.T) {
	t.Helper()
	globalclient.Reset()
	t.Cleanup(func() {
		if c := globalclient.Reset().Peek(); c != nil {
			c.Close()
		}
	})
}

func TestGlobalSetupOnce(t *testing.T) {
	freshGlobal(t)
	connected := client.Connected() // before Setup: the channel of the client to come

	opts := map[string]string{kvstore.EtcdAddrOption: hivetest.SharedServer(t).Endpoint()}
	require.NoError(t, client.Setup(context.Background(), kvstore.EtcdBackendName, opts, nil))
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("Connected was not closed")
	}
	c := client.Client()
	key := hivetest.UniquePrefix(t) + "k"
	require.NoError(t, c.Update(t.Context(), key, []byte("v"), false))

	// Later calls change nothing, even with another backend.
	require.NoError(t, client.Setup(context.Background(), kvstore.InMemoryBackendName, nil, nil))
	require.Same(t, c, client.Client())
}

func TestGlobalSetupInvalid(t *testing.T) {
	freshGlobal(t)
	err := client.Setup(context.Background(), "zookeeper", nil, nil)
	require.ErrorIs(t, err, kvstore.ErrUnknownBackend)

	_, err = client.ClientCtx(t.Context())
	require.ErrorIs(t, err, kvstore.ErrUnknownBackend, "ClientCtx reports why there is no client")
	require.PanicsWithValue(t, "kvstore: global client unavailable: "+err.Error(), func() { client.Client() })
}

func TestGlobalClientCtxWaitsForSetup(t *testing.T) {
	freshGlobal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := client.ClientCtx(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	got := make(chan kvstore.BackendOperations, 1)
	go func() { got <- client.Client() }()
	require.NoError(t, client.Setup(context.Background(), kvstore.InMemoryBackendName,
		map[string]string{kvstore.InMemoryStoreOption: t.Name()}, nil))
	select {
	case c := <-got:
		require.NotNil(t, c)
	case <-time.After(30 * time.Second):
		t.Fatal("Client did not return after Setup")
	}
}

func TestGlobalConnectionFailureNeverConnects(t *testing.T) {
	freshGlobal(t)
	extra := &kvstore.ExtraOptions{ConnectivityTimeout: 100 * time.Millisecond}
	require.NoError(t, client.Setup(context.Background(), kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: "http://127.0.0.1:1"}, extra))
	require.Eventually(t, func() bool { return globalclient.Current().Err() != nil },
		30*time.Second, 10*time.Millisecond, "the failure is recorded")
	select {
	case <-client.Connected():
		t.Fatal("Connected closed although the connection failed")
	default:
	}
}
