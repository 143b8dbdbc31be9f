package etcd

import (
	"bytes"
	"context"
	"errors"
	"unsafe"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// writeWithLease runs write with the data lease of key (NoLease without
// lease), and once more on a fresh lease when the server no longer knows the
// lease: it applied nothing then, so the retry cannot write twice. write
// reports whether it wrote the key.
//
// Afterwards the lease bookkeeping follows what the server holds, so that the
// lease-expired observers hear of exactly the keys on an expiring lease:
//   - a key this call attached but did not write (an existing key for a
//     create, an unchanged value, a refused lock fence) is detached again;
//     a key attached by an earlier write stays attached;
//   - a key written without lease has left its lease and is detached;
//   - after any other error the outcome is unknown and the key stays booked:
//     reporting a key lost that was not written is harmless, missing one
//     that was is not.
func (c *etcdClient) writeWithLease(ctx context.Context, key string, lease bool, write func(id clientv3.LeaseID) (bool, error)) (bool, error) {
	var fresh bool
	for attempt := 0; ; attempt++ {
		id, attached, err := c.leaseFor(ctx, key, lease)
		if err != nil {
			return false, err
		}
		fresh = fresh || attached
		wrote, err := write(id)
		if err != nil && attempt == 0 && c.leases.CancelIfExpired(err, id) {
			continue
		}
		switch {
		case err == nil && ((wrote && !lease) || (!wrote && fresh)):
			c.leases.Release(key)
		case fresh && errors.Is(err, kvstore.ErrLockLeaseExpired):
			c.leases.Release(key)
		}
		return wrote && err == nil, err
	}
}

// carriesTwice reports whether a write that sends value twice (compare and
// put) would exceed the server's request limit although the value alone
// fits: such a write compares on the mod revision instead (putIfDifferent).
func (c *etcdClient) carriesTwice(key string, value []byte) bool {
	return 3*len(key)+2*len(value)+2*validate.RequestOverhead > c.maxRequestBytes
}

// putIfDifferent writes key = value on lease id unless the key already holds
// exactly that, in one transaction that carries the value twice. fence, if
// not nil, guards the transaction: a failed fence is ErrLockLeaseExpired.
func (c *etcdClient) putIfDifferent(ctx context.Context, r request, key string, value []byte, id clientv3.LeaseID, fence *clientv3.Cmp) (bool, error) {
	if c.carriesTwice(key, value) {
		return c.putIfDifferentLarge(ctx, r, key, value, id, fence)
	}
	same := []clientv3.Cmp{
		clientv3.Compare(clientv3.Value(key), "=", wireString(value)),
		clientv3.Compare(clientv3.LeaseValue(key), "=", int64(id)),
	}
	put := clientv3.OpPut(key, wireString(value), putOptions(id)...)
	return do(ctx, c, r, func(cli *clientv3.Client) (bool, error) {
		if fence == nil {
			resp, err := cli.Txn(ctx).If(same...).Else(put).Commit()
			if err != nil {
				return false, err
			}
			return !resp.Succeeded, nil
		}
		resp, err := cli.Txn(ctx).If(*fence).Then(clientv3.OpTxn(same, nil, []clientv3.Op{put})).Commit()
		if err != nil {
			return false, err
		}
		if !resp.Succeeded {
			return false, kvstore.ErrLockLeaseExpired
		}
		return !resp.Responses[0].GetResponseTxn().Succeeded, nil
	})
}

// putIfDifferentLarge is putIfDifferent for a value too large to be sent
// twice: it reads the key, compares locally, and writes (or, under a fence,
// confirms the lock) in a transaction conditional on the mod revision it
// read, so the value travels once. A write that slipped in between makes it
// read again.
func (c *etcdClient) putIfDifferentLarge(ctx context.Context, r request, key string, value []byte, id clientv3.LeaseID, fence *clientv3.Cmp) (bool, error) {
	for {
		cur, err := do(ctx, c, request{}, func(cli *clientv3.Client) (*clientv3.GetResponse, error) { return cli.Get(ctx, key) })
		if err != nil {
			return false, err
		}
		var rev int64
		different := true
		if len(cur.Kvs) > 0 {
			kv := cur.Kvs[0]
			rev = kv.ModRevision
			different = !bytes.Equal(kv.Value, value) || kv.Lease != int64(id)
		}
		if !different && fence == nil {
			return false, nil
		}
		unchanged := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}
		var ops []clientv3.Op
		if different {
			ops = []clientv3.Op{clientv3.OpPut(key, wireString(value), putOptions(id)...)}
		}
		type outcome struct{ applied bool }
		res, err := do(ctx, c, r, func(cli *clientv3.Client) (outcome, error) {
			if fence == nil {
				resp, err := cli.Txn(ctx).If(unchanged...).Then(ops...).Commit()
				if err != nil {
					return outcome{}, err
				}
				return outcome{resp.Succeeded}, nil
			}
			resp, err := cli.Txn(ctx).If(*fence).Then(clientv3.OpTxn(unchanged, ops, nil)).Commit()
			if err != nil {
				return outcome{}, err
			}
			if !resp.Succeeded {
				return outcome{}, kvstore.ErrLockLeaseExpired
			}
			return outcome{resp.Responses[0].GetResponseTxn().Succeeded}, nil
		})
		if err != nil {
			return false, err
		}
		if res.applied {
			return different, nil
		}
	}
}

// readValue is the value of a read key: never nil for an existing key, so
// that an empty value cannot be mistaken for a missing key.
func readValue(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// wireString returns b as a string without copying it. clientv3 takes keys
// and values as strings and copies them into its request at once, so the
// usual string(b) conversion would copy every value twice on its way out.
// The string is only handed to clientv3's constructors (OpPut, Compare),
// which copy it before the call returns; b is the caller's argument and
// does not change during the call.
func wireString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
