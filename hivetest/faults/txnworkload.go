package faults

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hivekv/kvstore"
)

// txnGroups and txnGroupKeys shape the transaction workload's keys:
// prefix/g<i>/<j>, so that prefix comparisons and lists of a group, and of
// the whole prefix, cover keys that plain writes change too.
const (
	txnGroups    = 2
	txnGroupKeys = 2
)

// txnKeys returns the keys of the transaction workload under prefix.
func txnKeys(prefix string) []string {
	var keys []string
	for g := range txnGroups {
		for j := range txnGroupKeys {
			keys = append(keys, fmt.Sprintf("%sg%d/%d", prefix, g, j))
		}
	}
	return keys
}

// txnWorker is one worker of the transaction workload.
type txnWorker struct {
	rng    *rand.Rand
	c      *Client
	worker int
	prefix string
	keys   []string
	n      int
	// seen is a value and mod revision last read per key, for
	// comparisons that sometimes hold.
	seen map[string]KV
}

// TxnWorker issues random transactions (every comparison kind, puts with
// and without lease, deletes, gets and limited lists in both branches;
// some fenced on a lock of lockPath) mixed with plain writes, reads,
// ListPrefix and DeletePrefix on the same keys, until ctx ends.
func TxnWorker(ctx context.Context, seed int64, worker int, prefix, lockPath string, c *Client) {
	w := &txnWorker{rng: workerRand(seed, worker), c: c, worker: worker, prefix: prefix, keys: txnKeys(prefix), seen: map[string]KV{}}
	for ctx.Err() == nil {
		switch p := w.rng.IntN(100); {
		case p < 45:
			w.txn(ctx, nil)
		case p < 80:
			w.plain(ctx)
		case p < 90:
			w.list(ctx)
		case p < 92:
			octx, cancel := context.WithTimeout(ctx, opTimeout)
			_ = c.DeletePrefix(octx, w.group())
			cancel()
		default:
			w.locked(ctx, lockPath)
		}
		sleepCtx(ctx, thinkTime(w.rng))
	}
}

func (w *txnWorker) key() string   { return w.keys[w.rng.IntN(len(w.keys))] }
func (w *txnWorker) group() string { return fmt.Sprintf("%sg%d/", w.prefix, w.rng.IntN(txnGroups)) }

// value is unique to the write, or (a third of the time) a value shared by
// every worker, so that CmpValue and CmpPrefixValue sometimes hold.
func (w *txnWorker) value() string {
	w.n++
	if w.rng.IntN(3) == 0 {
		return "same"
	}
	return fmt.Sprintf("w%d-%d", w.worker, w.n)
}

func (w *txnWorker) cmp() kvstore.Cmp {
	key := w.key()
	switch w.rng.IntN(5) {
	case 0:
		v := w.seen[key].Value
		if v == "" || w.rng.IntN(3) == 0 {
			v = "same"
		}
		return kvstore.CmpValue(key, []byte(v))
	case 1:
		return kvstore.CmpMissing(key)
	case 2:
		return kvstore.CmpModRevision(key, w.seen[key].ModRevision)
	case 3:
		return kvstore.CmpNoPrefix(w.group())
	default:
		return kvstore.CmpPrefixValue(w.group(), []byte("same"))
	}
}

// branch returns 0-3 operations, each key written at most once.
func (w *txnWorker) branch(reads bool) []kvstore.Op {
	var ops []kvstore.Op
	written := map[string]bool{}
	for range w.rng.IntN(4) {
		key := w.key()
		switch p := w.rng.IntN(10); {
		case p < 3 || (reads && p < 6):
			ops = append(ops, kvstore.OpGet(key))
		case p < 5 || reads && p < 8:
			prefix := w.group()
			if w.rng.IntN(3) == 0 {
				prefix = w.prefix
			}
			ops = append(ops, kvstore.OpList(prefix, w.rng.IntN(3)))
		case written[key]:
		case p < 8:
			written[key] = true
			ops = append(ops, kvstore.OpPut(key, []byte(w.value()), w.rng.IntN(4) == 0))
		default:
			written[key] = true
			ops = append(ops, kvstore.OpDelete(key))
		}
	}
	return ops
}

func (w *txnWorker) txn(ctx context.Context, l *Lock) error {
	txn := kvstore.Txn{Then: w.branch(false), Else: w.branch(true)}
	for range w.rng.IntN(3) {
		txn.If = append(txn.If, w.cmp())
	}
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := w.c.Txn(octx, txn, l)
	if err != nil {
		return err
	}
	for _, r := range resp.Results {
		for _, kv := range r.KVs {
			w.seen[kv.Key] = KV{Key: kv.Key, Value: string(kv.Data), ModRevision: kv.ModRevision}
		}
	}
	return nil
}

func (w *txnWorker) plain(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	key := w.key()
	switch p := w.rng.IntN(100); {
	case p < 30:
		_, _ = w.c.Get(octx, key)
	case p < 60:
		_ = w.c.Update(octx, key, []byte(w.value()), w.rng.IntN(4) == 0)
	case p < 70:
		_ = w.c.Delete(octx, key)
	case p < 85:
		_, _ = w.c.CreateOnly(octx, key, []byte(w.value()), false)
	default:
		_, _ = w.c.UpdateIfDifferent(octx, key, []byte(w.value()), false)
	}
}

func (w *txnWorker) list(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	prefix := w.group()
	if w.rng.IntN(2) == 0 {
		prefix = w.prefix
	}
	if pairs, err := w.c.ListPrefix(octx, prefix); err == nil {
		for k, v := range pairs {
			w.seen[k] = KV{Key: k, Value: string(v.Data), ModRevision: v.ModRevision}
		}
	}
}

// locked takes the lock and runs one to three fenced transactions.
func (w *txnWorker) locked(ctx context.Context, path string) {
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	l, err := w.c.LockPath(lctx, path)
	cancel()
	if err != nil {
		return
	}
	for range 1 + w.rng.IntN(3) {
		if err := w.txn(ctx, l); errors.Is(err, kvstore.ErrLockLeaseExpired) || ctx.Err() != nil {
			break
		}
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	_ = w.c.Unlock(uctx, l)
	cancel()
}
