package store_test

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

const (
	waitFor = 30 * time.Second
	tick    = 5 * time.Millisecond
)

// testCtx is cancelled at the end of the test.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// quietLogger records the entries of a test's stores.
func quietLogger() (*logrus.Logger, *test.Hook) {
	l, hook := test.NewNullLogger()
	l.SetLevel(logrus.DebugLevel)
	return l, hook
}

// hasLog reports whether an entry's error matches target.
func hasLog(hook *test.Hook, target error) bool {
	for _, e := range hook.AllEntries() {
		if err, ok := e.Data[logrus.ErrorKey].(error); ok && errors.Is(err, target) {
			return true
		}
	}
	return false
}

// run runs fn in a goroutine and returns a function that cancels it and
// waits for it to return.
func run(t testing.TB, fn func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitFor):
				t.Errorf("did not return within %s of cancel", waitFor)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// view is an Observer that keeps what it was told, and counts.
type view struct {
	mu      sync.Mutex
	keys    map[string]string
	updates int
	deletes int
	log     []string
}

func newView() *view { return &view{keys: map[string]string{}} }

func (v *view) OnUpdate(k store.Key) {
	kv := k.(*store.KVPair)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys[kv.Key] = string(kv.Value)
	v.updates++
	v.log = append(v.log, "update "+kv.Key+"="+string(kv.Value))
}

func (v *view) OnDelete(k store.NamedKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.keys, k.GetKeyName())
	v.deletes++
	v.log = append(v.log, "delete "+k.GetKeyName())
}

func (v *view) snapshot() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.keys)
}

// equals waits until the view holds exactly want.
func (v *view) equals(t testing.TB, want map[string]string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, want, v.snapshot())
	}, waitFor, tick)
}

// etcdClient connects a client of ours to the shared server, rate limit off.
func etcdClient(t testing.TB) kvstore.BackendOperations {
	return newEtcdClient(t, hivetest.SharedServer(t), nil)
}

// newEtcdClient connects a client of ours to srv (rate limit off) through
// the public entry point, closed at the end of the test.
func newEtcdClient(t testing.TB, srv *hivetest.Server, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	t.Helper()
	if extra == nil {
		log, _ := quietLogger()
		extra = &kvstore.ExtraOptions{Logger: log}
	}
	c, errCh := client.NewClient(context.Background(), kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption:      srv.Endpoint(),
		kvstore.EtcdRateLimitOption: "100000",
	}, extra)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	select {
	case err := <-errCh:
		require.NoError(t, err, "connecting to etcd")
	case <-time.After(waitFor):
		t.Fatalf("not connected to etcd within %s", waitFor)
	}
	return c
}

// revokeLease revokes a lease on srv, as if it had expired.
func revokeLease(t testing.TB, srv *hivetest.Server, id int64) {
	t.Helper()
	_, err := srv.Client(t).Revoke(testCtx(t), clientv3.LeaseID(id))
	require.NoError(t, err)
}

// list returns the keys under prefix and their values.
func list(t testing.TB, c kvstore.BackendOperations, prefix string) map[string]string {
	t.Helper()
	kvs, err := c.ListPrefix(testCtx(t), prefix)
	require.NoError(t, err)
	out := make(map[string]string, len(kvs))
	for k, v := range kvs {
		out[k] = string(v.Data)
	}
	return out
}

// counter counts calls.
type counter struct{ n atomic.Int64 }

func (c *counter) inc(context.Context) { c.n.Add(1) }

// hasLogMsg reports whether an entry has message msg.
func hasLogMsg(hook *test.Hook, msg string) bool {
	for _, e := range hook.AllEntries() {
		if e.Message == msg {
			return true
		}
	}
	return false
}
