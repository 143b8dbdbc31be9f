package lockgc_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/lockgc"
	"github.com/hivekv/kvstore/promise"
)

var quiet = slog.New(slog.DiscardHandler)

// quietLogger keeps the clients' info logs out of the test output.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startHive starts h and stops it when the test ends.
func startHive(t *testing.T, h *hive.Hive) {
	t.Helper()
	require.NoError(t, h.Start(quiet, testCtx(t)))
	t.Cleanup(func() { require.NoError(t, h.Stop(quiet, context.Background())) })
}

// etcdClient returns a connected client of the shared server.
func etcdClient(t *testing.T) kvstore.BackendOperations {
	t.Helper()
	b, errCh := client.NewClient(context.Background(), kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      hivetest.SharedServer(t).Endpoint(),
		kvstore.EtcdRateLimitOption: "1000",
	}, &kvstore.ExtraOptions{NoLockQuorumCheck: true, Logger: quietLogger()})
	require.NotNil(t, b)
	t.Cleanup(b.Close)
	require.NoError(t, <-errCh)
	return b
}

func TestBareHive(t *testing.T) {
	startHive(t, hive.New(lockgc.Cell))
}

func TestFlags(t *testing.T) {
	var got lockgc.Config
	h := hive.New(lockgc.Cell, cell.Invoke(func(c lockgc.Config) { got = c }))
	flags := pflag.NewFlagSet("", pflag.ContinueOnError)
	h.RegisterFlags(flags)
	require.NoError(t, h.Populate(quiet))
	require.Equal(t, 30*time.Second, got.KVStoreLockGCInterval)
	require.Equal(t, 30*time.Second, got.KVStoreStaleLockTimeout)
	require.Equal(t, 50*time.Second, got.KVStoreLockSweepInterval)
	require.Empty(t, got.KVStoreLockSweepPrefixes)

	_, clientPromise := promise.New[kvstore.BackendOperations]()
	h = hive.New(
		cell.Provide(func() promise.Promise[kvstore.BackendOperations] { return clientPromise }),
		lockgc.Cell,
		cell.Invoke(func(c lockgc.Config) { got = c }),
	)
	flags = pflag.NewFlagSet("", pflag.ContinueOnError)
	h.RegisterFlags(flags)
	require.NoError(t, flags.Parse([]string{
		"--kvstore-lock-gc-interval=1s", "--kvstore-stale-lock-timeout=2s",
		"--kvstore-lock-sweep-prefixes=a/locks/,b/locks/", "--kvstore-lock-sweep-interval=3s",
	}))
	require.NoError(t, h.Populate(quiet))
	require.Equal(t, lockgc.Config{
		KVStoreLockGCInterval:    time.Second,
		KVStoreStaleLockTimeout:  2 * time.Second,
		KVStoreLockSweepPrefixes: []string{"a/locks/", "b/locks/"},
		KVStoreLockSweepInterval: 3 * time.Second,
	}, got)
}

func TestInvalidConfig(t *testing.T) {
	for name, override := range map[string]func(*lockgc.Config){
		"gc interval":   func(c *lockgc.Config) { c.KVStoreLockGCInterval = 0 },
		"stale timeout": func(c *lockgc.Config) { c.KVStoreStaleLockTimeout = -time.Second },
		"sweep interval": func(c *lockgc.Config) {
			c.KVStoreLockSweepPrefixes = []string{"locks/"}
			c.KVStoreLockSweepInterval = 0
		},
		"sweep without client": func(c *lockgc.Config) { c.KVStoreLockSweepPrefixes = []string{"locks/"} },
	} {
		t.Run(name, func(t *testing.T) {
			h := hive.New(lockgc.Cell)
			hive.AddConfigOverride(h, override)
			err := h.Start(quiet, testCtx(t))
			require.ErrorContains(t, err, kvstore.ErrInvalidConfig.Error())
		})
	}
}

// TestGCReleasesLeakedLocalLock: the cell's GC frees a local lock its owner
// never unlocked, so the next LockPath of the process gets through, and says
// so at error level with path and age.
func TestGCReleasesLeakedLocalLock(t *testing.T) {
	b := etcdClient(t)
	path := hivetest.UniquePrefix(t) + "leaked"
	leaked, err := b.LockPath(testCtx(t), path)
	require.NoError(t, err)

	log, hook := logtest.NewNullLogger()
	h := hive.New(
		cell.Provide(func() logrus.FieldLogger { return log }),
		lockgc.Cell,
	)
	hive.AddConfigOverride(h, func(c *lockgc.Config) {
		c.KVStoreLockGCInterval = 20 * time.Millisecond
		c.KVStoreStaleLockTimeout = 100 * time.Millisecond
	})
	startHive(t, h)

	next, err := b.LockPath(testCtx(t), path)
	require.NoError(t, err, "the GC released the leaked local lock")
	require.Eventually(t, func() bool {
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.ErrorLevel && e.Data["path"] == path && e.Data["age"] != nil {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, next.Unlock(testCtx(t)))
	require.NoError(t, leaked.Unlock(testCtx(t)))
}

// TestSweepDeletesStaleLock: with sweep prefixes set, a lock key whose
// holder vanished but whose lease lives on is deleted, and the path becomes
// lockable.
func TestSweepDeletesStaleLock(t *testing.T) {
	srv := hivetest.SharedServer(t)
	b := etcdClient(t)
	raw := srv.Client(t)
	prefix := hivetest.UniquePrefix(t)
	path := prefix + "locks/stuck"

	session, err := concurrency.NewSession(raw, concurrency.WithTTL(5))
	require.NoError(t, err)
	t.Cleanup(func() { _ = session.Close() })
	stuck := concurrency.NewMutex(session, path)
	require.NoError(t, stuck.Lock(testCtx(t)))

	log, hook := logtest.NewNullLogger()
	resolver, clientPromise := promise.New[kvstore.BackendOperations]()
	h := hive.New(
		cell.Provide(func() logrus.FieldLogger { return log }),
		cell.Provide(func() promise.Promise[kvstore.BackendOperations] { return clientPromise }),
		lockgc.Cell,
	)
	hive.AddConfigOverride(h, func(c *lockgc.Config) {
		c.KVStoreLockSweepPrefixes = []string{prefix}
		c.KVStoreLockSweepInterval = 100 * time.Millisecond
	})
	startHive(t, h)
	resolver.Resolve(b)

	require.Eventually(t, func() bool {
		resp, err := raw.Get(testCtx(t), stuck.Key())
		require.NoError(t, err)
		return len(resp.Kvs) == 0
	}, 10*time.Second, 20*time.Millisecond, "the stale lock key is swept")
	l, err := b.LockPath(testCtx(t), path)
	require.NoError(t, err)
	// The sweeper logs after its delete returned, which may be after the
	// deletion became visible here.
	require.Eventually(t, func() bool {
		for _, e := range hook.AllEntries() {
			if e.Data["path"] == path && e.Data["age"] != nil {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond, "the deletion is logged with path and age")
	require.NoError(t, l.Unlock(testCtx(t)))
	resp, err := raw.Get(testCtx(t), prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.Zero(t, resp.Count)
}

// TestSweepAwaitsClient: stopping the hive while the client promise is still
// pending returns promptly.
func TestSweepAwaitsClient(t *testing.T) {
	_, clientPromise := promise.New[kvstore.BackendOperations]()
	h := hive.New(
		cell.Provide(func() promise.Promise[kvstore.BackendOperations] { return clientPromise }),
		lockgc.Cell,
	)
	hive.AddConfigOverride(h, func(c *lockgc.Config) { c.KVStoreLockSweepPrefixes = []string{"locks/"} })
	require.NoError(t, h.Start(quiet, testCtx(t)))
	require.NoError(t, h.Stop(quiet, testCtx(t)))
}
