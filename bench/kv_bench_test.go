package bench

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/hivekv/kvstore/hivetest"
)

var value256 = make([]byte, 256)

// BenchmarkGet reads one existing key.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	key := prefix + "k"
	raw := rawClient(b)
	_, err := raw.Put(ctx, key, string(value256))
	require.NoError(b, err)

	pair(b, func(b *testing.B) {
		c := ourClient(b)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Get(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	}, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := raw.Get(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkUpdate overwrites keys without a lease.
func BenchmarkUpdate(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		c := ourClient(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := c.Update(ctx, prefix+"ours/"+strconv.Itoa(i%1000), value256, false); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}, func(b *testing.B) {
		raw := rawClient(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := raw.Put(ctx, prefix+"raw/"+strconv.Itoa(i%1000), string(value256)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkUpdateWithLease writes keys attached to a shared lease: ours
// through the lease manager, raw through one concurrency.Session.
func BenchmarkUpdateWithLease(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		c := ourClient(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := c.Update(ctx, prefix+"ours/"+strconv.Itoa(i%500), value256, true); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}, func(b *testing.B) {
		raw := rawClient(b)
		s, err := concurrency.NewSession(raw, concurrency.WithTTL(900))
		require.NoError(b, err)
		defer s.Close()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := raw.Put(ctx, prefix+"raw/"+strconv.Itoa(i%500), string(value256), clientv3.WithLease(s.Lease())); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkCreateOnly creates new keys; raw is the same transaction on
// CreateRevision == 0.
func BenchmarkCreateOnly(b *testing.B) {
	ctx := context.Background()
	prefix := hivetest.UniquePrefix(b)
	pair(b, func(b *testing.B) {
		c := ourClient(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			created, err := c.CreateOnly(ctx, prefix+"ours/"+strconv.Itoa(i), value256, false)
			if err != nil || !created {
				b.Fatal(created, err)
			}
			i++
		}
	}, func(b *testing.B) {
		raw := rawClient(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			key := prefix + "raw/" + strconv.Itoa(i)
			resp, err := raw.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
				Then(clientv3.OpPut(key, string(value256))).
				Commit()
			if err != nil || !resp.Succeeded {
				b.Fatal(err)
			}
			i++
		}
	})
}
