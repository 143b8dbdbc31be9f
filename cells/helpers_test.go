package cells_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	hivetesting "github.com/cilium/hive/hivetest"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/config"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

// testTimeout bounds every wait of these tests; reaching it means a bug.
const testTimeout = 30 * time.Second

// newHive builds a hive of cs, parses args as its command line, and returns
// it with a test logger.
func newHive(t *testing.T, args []string, cs ...cell.Cell) (*hive.Hive, *slog.Logger) {
	t.Helper()
	h := hive.New(cs...)
	fs := pflag.NewFlagSet(t.Name(), pflag.ContinueOnError)
	h.RegisterFlags(fs)
	require.NoError(t, fs.Parse(args))
	return h, hivetesting.Logger(t)
}

// startHive starts h and stops it at the end of the test.
func startHive(t *testing.T, h *hive.Hive, log *slog.Logger) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	require.NoError(t, h.Start(log, ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		require.NoError(t, h.Stop(log, ctx))
	})
}

// etcdArgs are the flags of a client of the shared server.
func etcdArgs(t *testing.T, more ...string) []string {
	return append([]string{
		"--kvstore=etcd",
		"--kvstore-opt=" + kvstore.EtcdAddrOption + "=" + hivetest.SharedServer(t).Endpoint(),
	}, more...)
}

// capture is an Invoke that stores the client promise in *p.
func capture[T any](p *promise.Promise[T]) cell.Cell {
	return cell.Invoke(func(v promise.Promise[T]) { *p = v })
}

// await awaits p with the test timeout.
func await[T any](t *testing.T, p promise.Promise[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return p.Await(ctx)
}

// shutdownRecorder wraps the hive's Shutdowner to see the cells' shutdowns.
type shutdownRecorder struct {
	hive.Shutdowner
	errs chan error
}

func newShutdownRecorder() *shutdownRecorder { return &shutdownRecorder{errs: make(chan error, 4)} }

// decorate applies the recorder to cs.
func (r *shutdownRecorder) decorate(cs ...cell.Cell) cell.Cell {
	return cell.Decorate(func(s hive.Shutdowner) hive.Shutdowner {
		r.Shutdowner = s
		return r
	}, cs...)
}

func (r *shutdownRecorder) Shutdown(opts ...hive.ShutdownOption) {
	r.errs <- shutdownErr(opts)
	r.Shutdowner.Shutdown(opts...)
}

// shutdownErr extracts the error of a shutdown: hive keeps its option type
// private, so the options are applied to a throw-away hive, whose Run then
// returns at once with that error.
func shutdownErr(opts []hive.ShutdownOption) error {
	h := hive.New()
	h.Shutdown(opts...)
	return h.Run(slog.New(slog.DiscardHandler))
}

// cellInvokeConfig stores the client's config.Config in *c.
func cellInvokeConfig(c *config.Config) cell.Cell {
	return cell.Invoke(func(v config.Config) { *c = v })
}
