package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// txnCounter wraps a transactional backend and records the size of every
// transaction sent through it. failAfter makes that many of the next
// transactions report an error after they were applied (outcome unknown).
type txnCounter struct {
	kvstore.BackendOperations
	mu         sync.Mutex
	ops        []int
	bytes      []int
	failAfter  atomic.Int32
	failBefore atomic.Int32
	skipped    int // conditional retries that wrote nothing
}

func (c *txnCounter) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	// Recorded before sending: once the keys are in the store, every
	// transaction that wrote them is counted.
	n := 0
	for _, op := range append(txn.Then, txn.Else...) {
		n += len(op.Key) + len(op.Value)
	}
	c.mu.Lock()
	c.ops = append(c.ops, len(txn.Then)+len(txn.Else))
	c.bytes = append(c.bytes, n)
	c.mu.Unlock()
	if c.failBefore.Add(-1) >= 0 {
		return nil, errors.New("injected failure before the transaction was applied")
	}
	resp, err := c.BackendOperations.(kvstore.Transactional).Txn(ctx, txn)
	if err == nil && len(txn.If) > 0 && resp.Succeeded {
		// A conditional retry found its keys written already.
		c.mu.Lock()
		c.skipped++
		c.mu.Unlock()
	}
	if err == nil && c.failAfter.Add(-1) >= 0 {
		return nil, errors.New("injected failure after the transaction was applied")
	}
	return resp, err
}

func (c *txnCounter) sizes() (ops, bytes []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.ops...), append([]int(nil), c.bytes...)
}

// txnRequests counts the Txn requests the etcd client itself recorded.
func txnRequests(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != "kvstore_operations_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "action") == "Txn" {
				n += int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestBatchesOnEtcd: N keys queued at once reach etcd in ⌈N/128⌉
// transactions, counted three ways: by the store's calls, by the etcd
// client's request metrics, and by the distinct store revisions of the
// keys (one per transaction, on the server).
func TestBatchesOnEtcd(t *testing.T) {
	const n = 1000
	prefix := hivetest.UniquePrefix(t) + "batch"
	reg := prometheus.NewRegistry()
	log, _ := quietLogger()
	c := newEtcdClient(t, hivetest.SharedServer(t), &kvstore.ExtraOptions{Metrics: reg, Logger: log})
	counted := &txnCounter{BackendOperations: c}
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(uniqueCluster(t, "c"), counted, prefix)
	ctx := testCtx(t)
	for i := range n {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%04d", i), "v")))
	}
	before := txnRequests(t, reg)
	run(t, ss.Run)

	require.Eventually(t, func() bool { return len(list(t, c, prefix+"/")) == n }, waitFor, tick)
	want := (n + kvstore.MaxTxnOps - 1) / kvstore.MaxTxnOps
	ops, _ := counted.sizes()
	require.Len(t, ops, want, "transactions sent: %v", ops)
	// The client books a request once its response is in, which may be
	// a moment after the keys are visible.
	require.Eventually(t, func() bool { return txnRequests(t, reg)-before == want }, waitFor, tick)
	kvs, err := c.ListPrefix(ctx, prefix+"/")
	require.NoError(t, err)
	revs := map[uint64]bool{}
	for _, v := range kvs {
		revs[v.ModRevision] = true
		require.NotZero(t, v.LeaseID, "written with the lease")
	}
	require.Len(t, revs, want, "distinct write revisions")
}

// TestBatchBytesBoundOnEtcd: batches stay under MaxBatchBytes, and a value
// too big to share a batch is written alone.
func TestBatchBytesBoundOnEtcd(t *testing.T) {
	prefix := hivetest.UniquePrefix(t) + "big"
	c := etcdClient(t)
	counted := &txnCounter{BackendOperations: c}
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(uniqueCluster(t, "c"), counted, prefix, store.WSSWithWorkers(1))
	ctx := testCtx(t)
	value := strings.Repeat("x", 100<<10)
	for i := range 30 {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%02d", i), value)))
	}
	big := strings.Repeat("y", 1200<<10) // over MaxBatchBytes, under etcd's 1.5 MiB
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("big", big)))
	run(t, ss.Run)

	require.Eventually(t, func() bool { return len(list(t, c, prefix+"/")) == 31 }, waitFor, tick)
	ops, bytes := counted.sizes()
	total := 0
	for i := range ops {
		total += ops[i]
		if bytes[i] > store.MaxBatchBytes {
			require.Equal(t, 1, ops[i], "only a lone key may exceed the bound")
		}
	}
	require.Equal(t, 31, total, "each key written once: %v", ops)
	require.Equal(t, []int{10, 10, 10, 1}, ops)
}

// TestBatchWithUnknownOutcomeIsRetriedOnEtcd: a transaction that reports an
// error may have been applied; the store writes its keys again, and a
// delete in it is harmless the second time.
func TestBatchWithUnknownOutcomeIsRetriedOnEtcd(t *testing.T) {
	prefix := hivetest.UniquePrefix(t) + "retry"
	c := etcdClient(t)
	counted := &txnCounter{BackendOperations: c}
	log, hook := quietLogger()
	cluster := uniqueCluster(t, "c")
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(cluster, counted, prefix, store.WSSWithWorkers(1))
	ctx := testCtx(t)
	require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair("gone", "1")))
	stop := run(t, ss.Run)
	require.Eventually(t, func() bool { return len(list(t, c, prefix+"/")) == 1 }, waitFor, tick)
	stop()

	counted.failAfter.Store(1)
	for i := range 50 {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%02d", i), "v")))
	}
	require.NoError(t, ss.DeleteKey(ctx, store.NewKVPair("gone", "")))
	var synced counter
	require.NoError(t, ss.Synced(ctx, synced.inc))
	run(t, ss.Run)
	require.Eventually(t, func() bool { return synced.n.Load() == 1 }, waitFor, tick)
	got := list(t, c, prefix+"/")
	require.Len(t, got, 50)
	require.NotContains(t, got, prefix+"/gone")
	ops, _ := counted.sizes()
	require.Equal(t, []int{1, 51, 51, 1}, ops, "first write, failed batch, its retry, then the marker")
	counted.mu.Lock()
	require.Equal(t, 1, counted.skipped, "the retry found the batch applied and wrote nothing again")
	counted.mu.Unlock()
	require.True(t, hasLogMsg(hook, "Failed writing keys to the kvstore. Retrying..."))
}

// TestBatchRetryNotAppliedIsWritten: the retry of a batch that failed before
// it was applied finds the keys not written and writes them.
func TestBatchRetryNotAppliedIsWritten(t *testing.T) {
	prefix := hivetest.UniquePrefix(t) + "retry"
	c := etcdClient(t)
	counted := &txnCounter{BackendOperations: c}
	log, _ := quietLogger()
	ss := store.NewFactory(store.WithLogger(log)).NewSyncStore(uniqueCluster(t, "c"), counted, prefix, store.WSSWithWorkers(1))
	ctx := testCtx(t)
	counted.failBefore.Store(2)
	for i := range 5 {
		require.NoError(t, ss.UpsertKey(ctx, store.NewKVPair(fmt.Sprintf("k%d", i), "v")))
	}
	run(t, ss.Run)
	require.Eventually(t, func() bool { return len(list(t, c, prefix+"/")) == 5 }, waitFor, tick)
	ops, _ := counted.sizes()
	require.Equal(t, []int{5, 5, 5}, ops, "two failed attempts, then the conditional retry that wrote")
	counted.mu.Lock()
	require.Zero(t, counted.skipped)
	counted.mu.Unlock()
}
