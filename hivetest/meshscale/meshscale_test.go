package meshscale_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/hivetest/meshscale"
)

func TestMain(m *testing.M) { hivetest.Main(m, false) }

// TestSmoke runs the whole scenario, fault pass included, at a small size:
// every agent ends with the remote truth and every fault converges.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := meshscale.Run(ctx, meshscale.Config{
		Clusters: 5, Servers: 2, Agents: 2,
		Nodes: 5, Identities: 5, Endpoints: 20,
		NodeQPS: 2, IdentityQPS: 2, EndpointQPS: 5,
		Churn:            time.Second,
		Faults:           true,
		DrainGracePeriod: 100 * time.Millisecond,
		ConvergeTimeout:  time.Minute,
		Dir:              t.TempDir(),
		Progress:         hivetest.TestLogWriter{TB: t},
	})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, res.WriteTable(&b))
	t.Log("\n" + b.String())
	require.True(t, res.OK(), b.String())
	require.Equal(t, 5*30, res.Keys)
	require.Len(t, res.Faults, 3)
	require.Positive(t, res.Latency.N, "churn events reached the agents")
	require.Zero(t, res.SyncErrors)
}
