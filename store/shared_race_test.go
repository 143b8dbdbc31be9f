package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/memory"
)

// The SharedStore's races, on synctest's fake clock: every wait is for the
// goroutines to block (synctest.Wait), never for wall-clock time.

// gatedBackend holds the writes of one key, after (hold) or instead of
// (block) applying them, until the test releases them.
type gatedBackend struct {
	kvstore.BackendOperations
	mu      sync.Mutex
	key     string
	hold    chan struct{} // after writing key, wait for it to close
	block   bool          // do not write key: wait for ctx, record its error
	ctxErrs []error
	updates []string // "key=value" of every Update and UpdateIfDifferent
}

func (g *gatedBackend) gate(key string) (held chan struct{}, blocked bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if key != g.key {
		return nil, false
	}
	return g.hold, g.block
}

func (g *gatedBackend) Update(ctx context.Context, key string, value []byte, lease bool) error {
	g.mu.Lock()
	g.updates = append(g.updates, key+"="+string(value))
	g.mu.Unlock()
	held, blocked := g.gate(key)
	if blocked {
		<-ctx.Done()
		g.mu.Lock()
		g.ctxErrs = append(g.ctxErrs, ctx.Err())
		g.mu.Unlock()
		return ctx.Err()
	}
	err := g.BackendOperations.Update(ctx, key, value, lease)
	if held != nil {
		<-held
	}
	return err
}

func (g *gatedBackend) UpdateIfDifferent(ctx context.Context, key string, value []byte, lease bool) (bool, error) {
	g.mu.Lock()
	g.updates = append(g.updates, key+"="+string(value))
	g.mu.Unlock()
	return g.BackendOperations.UpdateIfDifferent(ctx, key, value, lease)
}

// recordingObserver records the calls, and can hold OnUpdate or OnDelete of
// one key until the test releases it.
type recordingObserver struct {
	mu         sync.Mutex
	calls      []string
	keys       map[string]string
	holdUpdate map[string]chan struct{}
	holdDelete map[string]chan struct{}
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{keys: map[string]string{}, holdUpdate: map[string]chan struct{}{}, holdDelete: map[string]chan struct{}{}}
}

func (o *recordingObserver) OnUpdate(k Key) {
	kv := k.(*KVPair)
	o.mu.Lock()
	hold := o.holdUpdate[kv.Key]
	o.mu.Unlock()
	if hold != nil {
		<-hold
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, "update "+kv.Key+"="+string(kv.Value))
	o.keys[kv.Key] = string(kv.Value)
}

func (o *recordingObserver) OnDelete(k NamedKey) {
	o.mu.Lock()
	hold := o.holdDelete[k.GetKeyName()]
	o.mu.Unlock()
	if hold != nil {
		<-hold
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, "delete "+k.GetKeyName())
	delete(o.keys, k.GetKeyName())
}

func (o *recordingObserver) snapshot() map[string]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]string, len(o.keys))
	for k, v := range o.keys {
		out[k] = v
	}
	return out
}

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.PanicLevel)
	return l
}

// inMemory returns a client of a fresh in-memory store, and a second client
// of it (another writer).
func inMemory(t *testing.T) (c, other kvstore.BackendOperations) {
	st := memory.NewStore()
	c, other = st.NewClient(nil), st.NewClient(nil)
	t.Cleanup(c.Close)
	t.Cleanup(other.Close)
	return c, other
}

// joinForTest joins a SharedStore on prefix "p", released at cleanup.
func joinForTest(t *testing.T, b kvstore.BackendOperations, o Observer, delay time.Duration) *SharedStore {
	t.Helper()
	s, err := JoinSharedStore(Configuration{
		Prefix: "p", KeyCreator: KVPairCreator, Backend: b, Observer: o,
		SynchronizationInterval: time.Second, SharedKeyDeleteDelay: delay, Logger: quietLog(),
	})
	require.NoError(t, err)
	t.Cleanup(s.Release)
	return s
}

// A DeleteLocalKey that runs while UpdateLocalKeySync of the same key is
// writing must win: the key ends deleted and is not re-created by the
// periodic sync. The update used to remember the key as local after its
// write, outside the lock, so the sync re-created the deleted key.
func TestSharedStoreDeleteDuringLocalUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := inMemory(t)
		held := make(chan struct{})
		g := &gatedBackend{BackendOperations: c, key: "p/a", hold: held}
		o := newRecordingObserver()
		s := joinForTest(t, g, o, 0)
		ctx := t.Context()

		updated := make(chan error, 1)
		go func() { updated <- s.UpdateLocalKeySync(ctx, NewKVPair("a", "1")) }()
		synctest.Wait() // written, held before returning
		deleted := make(chan struct{})
		go func() {
			s.DeleteLocalKey(ctx, NewKVPair("a", ""))
			close(deleted)
		}()
		synctest.Wait()
		close(held)
		require.NoError(t, <-updated)
		<-deleted

		time.Sleep(5 * time.Second) // five periodic syncs
		synctest.Wait()
		v, err := c.Get(ctx, "p/a")
		require.NoError(t, err)
		require.Nil(t, v, "the deleted key was re-created")
		require.Empty(t, s.localKeys)
		require.NotContains(t, o.snapshot(), "a")
	})
}

// A DeleteLocalKey whose ctx ends while an update of the key is writing
// forgets the key: the update does not make it local, nothing re-creates it.
func TestSharedStoreDeleteGivingUpDuringLocalUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := inMemory(t)
		held := make(chan struct{})
		g := &gatedBackend{BackendOperations: c, key: "p/a", hold: held}
		s := joinForTest(t, g, nil, 0)

		updated := make(chan error, 1)
		go func() { updated <- s.UpdateLocalKeySync(t.Context(), NewKVPair("a", "1")) }()
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		s.DeleteLocalKey(ctx, NewKVPair("a", ""))
		close(held)
		require.NoError(t, <-updated)
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Empty(t, s.localKeys, "the overtaken update remembered the key")
	})
}

// A delayed OnDelete must not overtake a later OnUpdate of the key. The
// delay's goroutine used to call OnDelete itself: with the watch goroutine
// busy, it checked that the key had not re-appeared, and its OnDelete then
// landed after the OnUpdate of the key's re-creation.
func TestSharedStoreDelayedDeleteKeepsEventOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, other := inMemory(t)
		o := newRecordingObserver()
		const delay = time.Second
		joinForTest(t, c, o, delay)
		ctx := t.Context()

		require.NoError(t, other.Update(ctx, "p/x", []byte("1"), false))
		synctest.Wait()
		require.Equal(t, map[string]string{"x": "1"}, o.snapshot())
		require.NoError(t, other.Delete(ctx, "p/x"))
		synctest.Wait() // the delay runs

		// The observer is busy with another key when the delay runs out,
		// and x is re-created meanwhile.
		busy, deleting := make(chan struct{}), make(chan struct{})
		o.mu.Lock()
		o.holdUpdate["y"] = busy
		o.holdDelete["x"] = deleting
		o.mu.Unlock()
		require.NoError(t, other.Update(ctx, "p/y", []byte("1"), false))
		require.NoError(t, other.Update(ctx, "p/x", []byte("2"), false))
		synctest.Wait()
		time.Sleep(delay)
		synctest.Wait()
		close(busy)
		synctest.Wait()
		close(deleting)
		synctest.Wait()

		require.Equal(t, map[string]string{"x": "2", "y": "1"}, o.snapshot(), "calls: %v", o.calls)
	})
}

// Re-creating a local key deleted by someone else must neither hold up the
// other keys' events nor block without end.
func TestSharedStoreRecreationDoesNotBlockTheWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, other := inMemory(t)
		g := &gatedBackend{BackendOperations: c}
		o := newRecordingObserver()
		s := joinForTest(t, g, o, 0)
		ctx := t.Context()
		require.NoError(t, s.UpdateLocalKeySync(ctx, NewKVPair("a", "1")))
		synctest.Wait()

		g.mu.Lock()
		g.key, g.block = "p/a", true // the store hangs on the re-creation
		g.mu.Unlock()
		require.NoError(t, other.Delete(ctx, "p/a"))
		require.NoError(t, other.Update(ctx, "p/b", []byte("1"), false))
		synctest.Wait()
		require.Equal(t, "1", o.snapshot()["b"], "the watch is stuck behind the re-creation")

		time.Sleep(localKeyRecreateTimeout)
		synctest.Wait()
		g.mu.Lock()
		errs := g.ctxErrs
		g.mu.Unlock()
		require.Equal(t, []error{context.DeadlineExceeded}, errs, "the re-creation is bounded")

		// The periodic sync writes it once the store answers.
		g.mu.Lock()
		g.block = false
		g.mu.Unlock()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		v, err := c.Get(ctx, "p/a")
		require.NoError(t, err)
		require.Equal(t, "1", string(v))
	})
}

// The bookkeeping of delayed deletions does not grow with the keys ever
// deleted.
func TestSharedStoreForgetsDeletedKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, other := inMemory(t)
		for _, delay := range []time.Duration{0, time.Second} {
			s := joinForTest(t, c, newRecordingObserver(), delay)
			ctx := t.Context()
			for i := range 100 {
				k := fmt.Sprintf("p/%d-%d", delay, i)
				require.NoError(t, other.Update(ctx, k, []byte("v"), false))
				require.NoError(t, other.Delete(ctx, k))
			}
			synctest.Wait()
			time.Sleep(delay)
			synctest.Wait()
			s.mu.Lock()
			require.Empty(t, s.pendingDelete, "delay %s", delay)
			require.Empty(t, s.sharedKeys)
			s.mu.Unlock()
			require.Empty(t, s.locks.m)
			s.Release()
		}
	})
}
