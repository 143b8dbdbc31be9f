package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore/hivetest"
)

// rawLockTTL is the TTL of the raw session, our lock lease's default.
const rawLockTTL = 25

// rawSession returns a concurrency.Session on raw, closed with the benchmark.
func rawSession(b *testing.B, raw *clientv3.Client) *concurrency.Session {
	b.Helper()
	s, err := concurrency.NewSession(raw, concurrency.WithTTL(rawLockTTL))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkLockUnlock takes and releases an uncontended lock: ours through
// LockPath (local lock + etcd queue key), raw through concurrency.Mutex on a
// session made once.
func BenchmarkLockUnlock(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		c := ourClient(b)
		path := prefix + "ours"
		b.ReportAllocs()
		for b.Loop() {
			l, err := c.LockPath(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}, func(b *testing.B) {
		s := rawSession(b, rawClient(b))
		path := prefix + "raw"
		b.ReportAllocs()
		for b.Loop() {
			m := concurrency.NewMutex(s, path)
			if err := m.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			if err := m.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLockUpdateUnlock is the fenced write cycle: lock, one write
// guarded by the lock in a transaction, unlock.
func BenchmarkLockUpdateUnlock(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		c := ourClient(b)
		path, key := prefix+"ours/lock", prefix+"ours/key"
		b.ReportAllocs()
		for b.Loop() {
			l, err := c.LockPath(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.UpdateIfLocked(ctx, key, value256, false, l); err != nil {
				b.Fatal(err)
			}
			if err := l.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}, func(b *testing.B) {
		raw := rawClient(b)
		s := rawSession(b, raw)
		path, key := prefix+"raw/lock", prefix+"raw/key"
		b.ReportAllocs()
		for b.Loop() {
			m := concurrency.NewMutex(s, path)
			if err := m.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			resp, err := raw.Txn(ctx).If(m.IsOwner()).Then(clientv3.OpPut(key, string(value256))).Commit()
			if err != nil {
				b.Fatal(err)
			}
			if !resp.Succeeded {
				b.Fatal("lost the lock")
			}
			if err := m.Unlock(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
