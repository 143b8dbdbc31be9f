package etcd

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/txnlease"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// Txn implements kvstore.Transactional as one etcd Txn request under one
// rate-limit slot. With a lock, the transaction is nested in a guard on the
// lock's fence, so that a lost lock and failed comparisons stay apart: the
// former is ErrLockLeaseExpired, the latter the Else branch.
func (c *etcdClient) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	var fence *clientv3.Cmp
	var fenceKey string
	if txn.Lock != nil {
		f, err := lockFence(txn.Lock)
		if err != nil {
			return nil, wrapOp("txn", "", err)
		}
		fence, fenceKey = &f, string(f.KeyBytes())
	}
	if key, err := validate.Txn(txn, c.maxRequestBytes, fenceKey); err != nil {
		return nil, wrapOp("txn", key, err)
	}
	resp, err := c.txn(ctx, txn, fence)
	if errors.Is(err, kvstore.ErrLockLeaseExpired) {
		return nil, kvstore.ErrLockLeaseExpired
	}
	return resp, wrapOp("txn", "", err)
}

func (c *etcdClient) txn(ctx context.Context, txn kvstore.Txn, fence *clientv3.Cmp) (*kvstore.TxnResponse, error) {
	if _, err := c.client(ctx); err != nil {
		return nil, err
	}
	attach := func(key string) (clientv3.LeaseID, bool, error) { return c.leases.GetLeaseID(ctx, key) }
	for attempt := 0; ; attempt++ {
		plan, err := txnlease.Prepare(txn, attach, c.leases.Release)
		if err != nil {
			return nil, err
		}
		resp, ran, err := c.commitTxn(ctx, txn, plan, fence)
		if err != nil {
			if isLeaseNotFound(err) && attempt == 0 {
				// Nothing was applied: drop the vanished leases
				// and try once more on fresh ones.
				plan.Settle(txn, txnlease.NoBranch, c.leases.Release)
				c.cancelVanishedLeases(ctx, plan.Leases(), err)
				continue
			}
			// Outcome unknown: the puts may have landed, so their
			// keys stay booked on their leases.
			return nil, err
		}
		plan.Settle(txn, ran, c.leases.Release)
		if ran == txnlease.NoBranch {
			return nil, kvstore.ErrLockLeaseExpired
		}
		return resp, nil
	}
}

// cancelVanishedLeases drops those of ids that the server no longer knows.
// The error of a transaction does not say which of its leases was missing,
// and dropping a live one would stop its keepalive, so each is asked for.
func (c *etcdClient) cancelVanishedLeases(ctx context.Context, ids []clientv3.LeaseID, cause error) {
	cli, err := c.client(ctx)
	if err != nil {
		return
	}
	for _, id := range ids {
		ttl, err := cli.TimeToLive(ctx, id)
		if err == nil && ttl.TTL > 0 {
			continue
		}
		if err == nil || isLeaseNotFound(err) {
			c.leases.CancelIfExpired(cause, id)
		}
	}
}

// commitTxn sends the transaction and reports which branch ran (NoBranch:
// the fence failed).
func (c *etcdClient) commitTxn(ctx context.Context, txn kvstore.Txn, plan *txnlease.Plan[clientv3.LeaseID], fence *clientv3.Cmp) (*kvstore.TxnResponse, txnlease.Branch, error) {
	cmps := etcdCmps(txn.If)
	then := etcdOps(txn.Then, plan.Then)
	els := etcdOps(txn.Else, plan.Else)
	if fence == nil && len(then) == 0 && len(els) == 0 {
		// etcd serves a transaction whose branches hold no operation
		// as a serializable read (every operation of it is a
		// serializable range, vacuously): from the member's own state,
		// without asking the leader, so a lagging member answers its
		// comparisons with stale data. One linearizable range in each
		// branch makes it a linearizable read; its result is not
		// reported (txnResponse maps only the caller's operations).
		then, els = []clientv3.Op{linearizeOp()}, []clientv3.Op{linearizeOp()}
	}
	var fields logrus.Fields
	if tracing.Load() {
		fields = logrus.Fields{"compares": len(txn.If), "then": len(txn.Then), "else": len(txn.Else)}
	}
	raw, err := do(ctx, c, request{kind: kindSet, action: "Txn", key: txnLabelKey(txn), fields: fields},
		func(cli *clientv3.Client) (*clientv3.TxnResponse, error) {
			if fence != nil {
				return cli.Txn(ctx).If(*fence).Then(clientv3.OpTxn(cmps, then, els)).Commit()
			}
			return cli.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
		})
	if err != nil {
		return nil, txnlease.NoBranch, err
	}
	inner := (*pb.TxnResponse)(raw)
	if fence != nil {
		if !raw.Succeeded {
			return nil, txnlease.NoBranch, nil
		}
		inner = raw.Responses[0].GetResponseTxn()
	}
	ran, ops := txnlease.ElseBranch, txn.Else
	if inner.Succeeded {
		ran, ops = txnlease.ThenBranch, txn.Then
	}
	return txnResponse(inner, raw.Header.Revision, ops), ran, nil
}

// linearizeOp is the cheapest linearizable range: the count of one key.
func linearizeOp() clientv3.Op { return clientv3.OpGet(allKeys, clientv3.WithCountOnly()) }

// txnLabelKey is the key a transaction is reported under in metrics and
// traces: its first one.
func txnLabelKey(txn kvstore.Txn) string {
	for _, ops := range [][]kvstore.Op{txn.Then, txn.Else} {
		if len(ops) > 0 {
			return ops[0].Key
		}
	}
	if len(txn.If) > 0 {
		return txn.If[0].Key
	}
	return ""
}

// allKeys is the range start and end that etcd reads as "every key": the
// empty prefix, which etcd refuses as a plain key.
const allKeys = "\x00"

func etcdCmps(cmps []kvstore.Cmp) []clientv3.Cmp {
	out := make([]clientv3.Cmp, len(cmps))
	for i, c := range cmps {
		switch c.Kind {
		case kvstore.CmpKindValue:
			out[i] = clientv3.Compare(clientv3.Value(c.Key), "=", wireString(c.Value))
		case kvstore.CmpKindModRevision:
			out[i] = clientv3.Compare(clientv3.ModRevision(c.Key), "=", int64(c.Revision))
		case kvstore.CmpKindMissing:
			out[i] = clientv3.Compare(clientv3.CreateRevision(c.Key), "=", 0)
		case kvstore.CmpKindNoPrefix:
			// Over a range, a comparison holds when it holds for every
			// key in it, and an empty range compares as one absent
			// key: "created at revision 0" then means "no key".
			out[i] = overPrefix(c.Key, func(k string) clientv3.Cmp { return clientv3.Compare(clientv3.CreateRevision(k), "=", 0) })
		case kvstore.CmpKindPrefixValue:
			// A value comparison over an empty range never holds, so
			// this also demands that some key exists.
			out[i] = overPrefix(c.Key, func(k string) clientv3.Cmp { return clientv3.Compare(clientv3.Value(k), "=", wireString(c.Value)) })
		}
	}
	return out
}

// overPrefix makes the comparison cmp builds cover every key starting with
// prefix; the empty prefix
// is every key, which etcd spells as the range from "\x00" to "\x00".
func overPrefix(prefix string, cmp func(key string) clientv3.Cmp) clientv3.Cmp {
	if prefix == "" {
		return cmp(allKeys).WithRange(allKeys)
	}
	return cmp(prefix).WithPrefix()
}

func etcdOps(ops []kvstore.Op, leases []clientv3.LeaseID) []clientv3.Op {
	out := make([]clientv3.Op, len(ops))
	for i, op := range ops {
		switch op.Kind {
		case kvstore.OpKindPut:
			id := clientv3.NoLease
			if leases != nil {
				id = leases[i]
			}
			out[i] = clientv3.OpPut(op.Key, wireString(op.Value), putOptions(id)...)
		case kvstore.OpKindDelete:
			out[i] = clientv3.OpDelete(op.Key)
		case kvstore.OpKindGet:
			out[i] = clientv3.OpGet(op.Key)
		case kvstore.OpKindList:
			opts := []clientv3.OpOption{clientv3.WithPrefix()}
			if op.Limit > 0 {
				opts = append(opts, clientv3.WithLimit(int64(op.Limit)))
			}
			out[i] = clientv3.OpGet(op.Key, opts...)
		}
	}
	return out
}

func txnResponse(r *pb.TxnResponse, rev int64, ops []kvstore.Op) *kvstore.TxnResponse {
	resp := &kvstore.TxnResponse{Succeeded: r.Succeeded, Revision: uint64(rev), Results: make([]kvstore.OpResult, len(ops))}
	for i, op := range ops {
		if i >= len(r.Responses) {
			break
		}
		switch op.Kind {
		case kvstore.OpKindDelete:
			resp.Results[i].Deleted = int(r.Responses[i].GetResponseDeleteRange().GetDeleted())
		case kvstore.OpKindGet, kvstore.OpKindList:
			rr := r.Responses[i].GetResponseRange()
			kvs := make([]kvstore.KeyValue, len(rr.GetKvs()))
			for j, kv := range rr.GetKvs() {
				data := kv.Value
				if data == nil {
					data = []byte{}
				}
				kvs[j] = kvstore.KeyValue{Key: string(kv.Key), Value: kvstore.Value{Data: data, ModRevision: uint64(kv.ModRevision), LeaseID: kv.Lease}}
			}
			resp.Results[i] = kvstore.OpResult{KVs: kvs, More: rr.GetMore()}
		}
	}
	return resp
}
