package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// ourClient connects our etcd backend to the shared server with rate limiting
// effectively off, as the raw client has none.
func ourClient(tb testing.TB) kvstore.BackendOperations {
	tb.Helper()
	srv := hivetest.SharedServer(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      srv.Endpoint(),
		kvstore.EtcdRateLimitOption: "1000000",
	}, &kvstore.ExtraOptions{Logger: quietLogger()})
	require.NoError(tb, <-errCh)
	tb.Cleanup(c.Close)
	return c
}

// rawClient is a plain clientv3 client on the same server.
func rawClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	return hivetest.SharedServer(tb).Client(tb)
}

// quietLogger keeps the client's info logs out of the benchmark output.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}

// rawFirst, from HIVEKV_BENCH_RAW_FIRST=1, runs each raw sub-benchmark
// before ours. `make bench` alternates it between runs, so that warm-up and
// the drift of a shared machine do not always favour the same side.
var rawFirst = os.Getenv("HIVEKV_BENCH_RAW_FIRST") == "1"

// pair runs the "ours" and "raw" sub-benchmarks in the order rawFirst says.
func pair(b *testing.B, ours, raw func(b *testing.B)) {
	if rawFirst {
		b.Run("raw", raw)
		b.Run("ours", ours)
		return
	}
	b.Run("ours", ours)
	b.Run("raw", raw)
}
