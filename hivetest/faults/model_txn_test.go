package faults

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func txnIn(lock string, cmps []TxnCmp, then, els []TxnOp) Input {
	return Input{Kind: KindTxn, Lock: lock, Txn: &TxnInput{If: cmps, Then: then, Else: els}}
}

func txnOut(succeeded bool, rev uint64, results ...TxnResult) Output {
	return Output{Succeeded: succeeded, Revision: rev, Results: results}
}

func put(k, v string) TxnOp       { return TxnOp{Kind: kvstore.OpKindPut, Key: k, Value: v} }
func tget(k string) TxnOp         { return TxnOp{Kind: kvstore.OpKindGet, Key: k} }
func tlist(p string, n int) TxnOp { return TxnOp{Kind: kvstore.OpKindList, Key: p, Limit: n} }
func missing(k string) TxnCmp     { return TxnCmp{Kind: kvstore.CmpKindMissing, Key: k} }
func noPrefix(p string) TxnCmp    { return TxnCmp{Kind: kvstore.CmpKindNoPrefix, Key: p} }
func prefixValue(p, v string) TxnCmp {
	return TxnCmp{Kind: kvstore.CmpKindPrefixValue, Key: p, Value: v}
}
func modRev(k string, r uint64) TxnCmp {
	return TxnCmp{Kind: kvstore.CmpKindModRevision, Key: k, Revision: r}
}
func read(kvs ...KV) TxnResult { return TxnResult{KVs: kvs} }
func kv(k, v string, rev uint64) KV {
	return KV{Key: k, Value: v, ModRevision: rev}
}

func TestModelTxn(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"then applies its puts at once", []Op{
			op(0, txnIn("", []TxnCmp{missing("a")}, []TxnOp{put("a", "1"), put("b", "1")}, nil), txnOut(true, 7, TxnResult{}, TxnResult{}), 0, 10),
			op(1, getIn("a"), get("a", "1"), 20, 30),
			op(1, getIn("b"), get("b", "1"), 40, 50),
		}, true},
		{"then taken although a compare failed", []Op{
			op(0, upd("a", "x"), okOut, 0, 5),
			op(0, txnIn("", []TxnCmp{missing("a")}, []TxnOp{put("b", "1")}, nil), txnOut(true, 7, TxnResult{}), 10, 20),
		}, false},
		{"else taken although every compare held", []Op{
			op(0, txnIn("", []TxnCmp{missing("a")}, []TxnOp{put("b", "1")}, nil), txnOut(false, 7), 10, 20),
		}, false},
		{"else read is stale", []Op{
			op(0, upd("a", "x"), okOut, 0, 5),
			op(0, upd("a", "y"), okOut, 6, 9),
			op(1, txnIn("", []TxnCmp{missing("a")}, nil, []TxnOp{tget("a")}), txnOut(false, 9, read(kv("a", "x", 0))), 10, 20),
		}, false},
		{"else read is current", []Op{
			op(0, upd("a", "x"), okOut, 0, 5),
			op(1, txnIn("", []TxnCmp{missing("a")}, nil, []TxnOp{tget("a")}), txnOut(false, 9, read(kv("a", "x", 4))), 10, 20),
		}, true},
		{"one transaction's writes seen half", []Op{
			op(0, txnIn("", nil, []TxnOp{put("a", "1"), put("b", "1")}, nil), txnOut(true, 7, TxnResult{}, TxnResult{}), 0, 100),
			op(1, getIn("a"), get("a", "1"), 10, 20),
			op(1, getIn("b"), get("b", ""), 30, 40),
		}, false},
		{"an unknown transaction may apply late", []Op{
			op(0, txnIn("", []TxnCmp{missing("a")}, []TxnOp{put("a", "1")}, nil), unknown, 0, 10),
			op(1, getIn("a"), get("a", ""), 20, 30),
			op(1, getIn("a"), get("a", "1"), 40, 50),
		}, true},
		{"an unknown transaction applies only if its compares hold", []Op{
			op(0, upd("a", "x"), okOut, 0, 5),
			op(0, txnIn("", []TxnCmp{missing("a")}, []TxnOp{put("b", "1")}, nil), unknown, 10, 20),
			op(1, getIn("b"), get("b", "1"), 30, 40),
		}, false},
		{"prefix compares see every key under the prefix", []Op{
			op(0, upd("p/1", "v"), okOut, 0, 5),
			op(0, upd("p/2", "w"), okOut, 6, 9),
			op(1, txnIn("", []TxnCmp{prefixValue("p/", "v")}, []TxnOp{put("q", "1")}, nil), txnOut(true, 9, TxnResult{}), 10, 20),
		}, false},
		{"no-prefix holds once the prefix is empty", []Op{
			op(0, upd("p/1", "v"), okOut, 0, 5),
			op(0, Input{Kind: KindDeletePrefix, Key: "p/"}, okOut, 6, 9),
			op(1, txnIn("", []TxnCmp{noPrefix("p/")}, []TxnOp{put("q", "1")}, []TxnOp{tlist("p/", 1)}), txnOut(true, 9, TxnResult{}), 10, 20),
		}, true},
		{"a list with a limit", []Op{
			op(0, upd("p/1", "v"), okOut, 0, 5),
			op(0, upd("p/2", "w"), okOut, 6, 9),
			op(1, txnIn("", []TxnCmp{noPrefix("p/")}, nil, []TxnOp{tlist("p/", 1)}), txnOut(false, 9, TxnResult{KVs: []KV{kv("p/1", "v", 0)}, More: true}), 10, 20),
		}, true},
		{"a list missing a key", []Op{
			op(0, upd("p/1", "v"), okOut, 0, 5),
			op(0, upd("p/2", "w"), okOut, 6, 9),
			op(1, txnIn("", []TxnCmp{noPrefix("p/")}, nil, []TxnOp{tlist("p/", 0)}), txnOut(false, 9, read(kv("p/2", "w", 0))), 10, 20),
		}, false},
		{"mod revision of a transaction's put", []Op{
			op(0, txnIn("", nil, []TxnOp{put("a", "1")}, nil), txnOut(true, 7, TxnResult{}), 0, 5),
			op(1, txnIn("", []TxnCmp{modRev("a", 7)}, nil, nil), txnOut(false, 8), 10, 20),
		}, false},
		{"superseded holder's fenced transaction applies", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, txnIn("p/a@5", nil, []TxnOp{put("k", "a")}, nil), txnOut(true, 12, TxnResult{}), 14, 15),
		}, false},
		{"superseded holder's fenced transaction is refused", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("p/b@9"), okOut, 10, 11),
			op(0, txnIn("p/a@5", nil, []TxnOp{put("k", "a")}, nil), Output{LockLost: true}, 14, 15),
			op(1, txnIn("p/b@9", []TxnCmp{missing("k")}, []TxnOp{put("k", "b")}, nil), txnOut(true, 12, TxnResult{}), 16, 17),
		}, true},
		{"locks of two paths are held at once", []Op{
			op(0, lockIn("p/a@5"), okOut, 0, 1),
			op(1, lockIn("q/b@9"), okOut, 10, 11),
			op(0, fencedUpd("k", "a", "p/a@5"), okOut, 14, 15),
			op(1, fencedUpd("k", "b", "q/b@9"), okOut, 16, 17),
		}, true},
		{"lock keys may fail a no-prefix compare", []Op{
			op(0, lockIn("l/a@5"), okOut, 0, 1),
			op(1, txnIn("", []TxnCmp{noPrefix("l/")}, nil, []TxnOp{tlist("l/", 1)}), txnOut(false, 8, TxnResult{KVs: []KV{kv("l/a", "", 5)}}), 10, 20),
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckLinearizable(tc.ops, 0, "")
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrViolation)
			}
		})
	}
}

func TestCheckNoLostWritesOfTxn(t *testing.T) {
	ops := []Op{
		op(0, upd("k", "a"), okOut, 0, 10),
		op(1, txnIn("", nil, []TxnOp{put("k", "b")}, nil), txnOut(true, 5, TxnResult{}), 20, 30),
		op(FinalWorker, getIn("k"), get("k", "a"), 40, 50),
	}
	require.ErrorIs(t, CheckNoLostWrites(ops, FinalWorker), ErrViolation)
	ops[2].Output = get("k", "b")
	require.NoError(t, CheckNoLostWrites(ops, FinalWorker))
	ops[1].Output = txnOut(false, 5)
	require.ErrorContains(t, CheckNoLostWrites(ops, FinalWorker), "which no operation wrote")
}

func TestModelSpuriousLockLost(t *testing.T) {
	lost := Output{LockLost: true}
	held := fencedUpd("k", "a", "p/a@5")
	held.LockHeld = true
	ops := []Op{
		op(0, lockIn("p/a@5"), okOut, 0, 1),
		op(0, held, lost, 2, 3),
	}
	require.ErrorIs(t, CheckLinearizable(ops, 0, ""), ErrViolation, "the lock was lost while its holding had not ended")

	// Revoked first: the report is true.
	revoked := append([]Op{ops[0], op(9, Input{Kind: KindRevoke, LockKey: "p/a"}, okOut, 1, 2)}, op(0, held, lost, 3, 4))
	require.NoError(t, CheckLinearizable(revoked, 0, ""))
	// Superseded first: as well.
	superseded := append([]Op{ops[0], op(1, lockIn("p/b@9"), okOut, 1, 2)}, op(0, held, lost, 3, 4))
	require.NoError(t, CheckLinearizable(superseded, 0, ""))
	// Without LocksHold a lease may have expired unseen.
	ops[1].Input.LockHeld = false
	require.NoError(t, CheckLinearizable(ops, 0, ""))
}

func TestModelLeaseExpiry(t *testing.T) {
	leased := Input{Kind: KindUpdate, Key: "k", Value: "a", Lease: true, Client: "c1"}
	expire := Input{Kind: KindLeaseExpire, Client: "c1"}
	ops := []Op{
		op(0, leased, okOut, 0, 10),
		op(9, expire, okOut, 20, 40),
		op(1, getIn("k"), get("k", ""), 50, 60),
	}
	require.NoError(t, CheckLinearizable(ops, 0, ""), "the key went with the lease")
	require.NoError(t, CheckNoLostWrites(append(ops[:2:2], op(FinalWorker, getIn("k"), get("k", ""), 50, 60)), FinalWorker))

	early := []Op{ops[0], ops[1], op(1, getIn("k"), get("k", ""), 12, 15)}
	require.ErrorIs(t, CheckLinearizable(early, 0, ""), ErrViolation, "the key vanished before the client was cut off")

	late := []Op{ops[0], ops[1], op(1, getIn("k"), get("k", "a"), 50, 60)}
	require.ErrorIs(t, CheckLinearizable(late, 0, ""), ErrViolation, "the key outlived its lease")

	plain := []Op{op(0, upd("k", "a"), okOut, 0, 10), ops[1], op(1, getIn("k"), get("k", "a"), 50, 60)}
	require.NoError(t, CheckLinearizable(plain, 0, ""), "a key without the lease stays")
}
