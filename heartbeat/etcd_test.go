package heartbeat_test

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/heartbeat"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

func connect(t *testing.T, srv *hivetest.Server, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	c, errCh := client.NewClient(t.Context(), kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: strings.Join(srv.Endpoints(), ",")}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)
	return c
}

// TestCellKeepsReadersHealthy runs the cell against a real etcd and checks
// what a reading client makes of it: healthy while the cell runs, failing
// once it stopped.
func TestCellKeepsReadersHealthy(t *testing.T) {
	t.Parallel()
	srv := hivetest.StartServer(t) // own server: the heartbeat key is global
	reader := connect(t, srv, &kvstore.ExtraOptions{
		ClusterSizeDependantInterval: func(time.Duration) time.Duration { return 100 * time.Millisecond },
		HeartbeatInterval:            300 * time.Millisecond,
		StatusCheckTimeout:           time.Second,
	})
	writer := connect(t, srv, nil)

	resolver, p := promise.New[kvstore.BackendOperations]()
	resolver.Resolve(writer)
	h := newHive(t, p)
	flags := pflag.NewFlagSet("", pflag.ContinueOnError)
	h.RegisterFlags(flags)
	require.NoError(t, flags.Parse([]string{"--" + heartbeat.FlagInterval + "=100ms"}))
	require.NoError(t, h.Start(quietLog(), t.Context()))

	raw := srv.Client(t)
	require.Eventually(t, func() bool {
		resp, err := raw.Get(t.Context(), kvstore.HeartbeatPath)
		if err != nil || len(resp.Kvs) == 0 {
			return false
		}
		_, perr := time.Parse(time.RFC3339, string(resp.Kvs[0].Value))
		return perr == nil && resp.Kvs[0].Lease != 0 && resp.Kvs[0].Version >= 3
	}, 10*time.Second, 20*time.Millisecond, "the heartbeat is rewritten, with a lease")
	require.Equal(t, kvstore.StateOK, reader.Status().State, reader.Status().Msg)

	require.NoError(t, h.Stop(quietLog(), t.Context()))
	require.Eventually(t, func() bool {
		st := reader.Status()
		return st.State == kvstore.StateFailure && strings.Contains(st.Msg, "since last heartbeat update has been received")
	}, 10*time.Second, 20*time.Millisecond, "last status: %v", reader.Status())
}
