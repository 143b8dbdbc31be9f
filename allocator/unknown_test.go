package allocator_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/allocator"
)

// lossy loses the outcome of its first failN transactions that write: with
// apply the server applied them and only the reply was lost, without it the
// request was lost on the way. Either way the caller sees an error.
type lossy struct {
	kvstore.BackendOperations
	apply   bool
	failN   atomic.Int32
	calls   atomic.Int32
	applied atomic.Int32 // writes applied whose reply was lost
}

var errLost = errors.New("reply lost")

func (l *lossy) Txn(ctx context.Context, txn kvstore.Txn) (*kvstore.TxnResponse, error) {
	l.calls.Add(1)
	writes := false
	for _, op := range txn.Then {
		writes = writes || op.Kind == kvstore.OpKindPut
	}
	if writes && l.failN.Add(-1) >= 0 {
		if l.apply {
			if _, err := l.BackendOperations.(kvstore.Transactional).Txn(ctx, txn); err != nil {
				return nil, err
			}
			l.applied.Add(1)
		}
		return nil, errLost
	}
	return l.BackendOperations.(kvstore.Transactional).Txn(ctx, txn)
}

// A create whose reply was lost is read back before anything else is
// tried: the allocation succeeds with the ID it made, and the key has one
// master key. A create that never arrived is simply made again.
func TestUnknownOutcomeIsReadBack(t *testing.T) {
	for _, apply := range []bool{true, false} {
		name := map[bool]string{true: "reply-lost", false: "request-lost"}[apply]
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			k := memKit()
			base := basePath(t)
			l := &lossy{BackendOperations: k.newCli(t), apply: apply}
			l.failN.Store(1)
			a := newAllocator(t, l, base, "n")
			id, isNew, _, err := a.Allocate(ctx, "k;")
			require.NoError(t, err)
			require.True(t, isNew)
			masters := listStrings(t, l, base+"/id/")
			require.Equal(t, map[string]string{base + "/id/" + id.String(): "k;"}, masters)
			if apply {
				require.Equal(t, int32(2), l.calls.Load(), "the lost create and one re-read, nothing else")
			} else {
				require.Equal(t, int32(3), l.calls.Load(), "the lost create, a re-read, a new create")
			}
		})
	}
}

// An Allocate that gives up after writes with lost replies leaves no slave
// key behind for good: the periodic sync deletes it.
func TestFailedAllocateLeavesNoSlaveKey(t *testing.T) {
	ctx := testCtx(t)
	k := memKit()
	base := basePath(t)
	other := newAllocator(t, k.newCli(t), base, "other")
	_, _, _, err := other.Allocate(ctx, "k;")
	require.NoError(t, err)

	l := &lossy{BackendOperations: k.newCli(t), apply: true}
	l.failN.Store(1 << 30) // every write lands, every reply is lost
	a := newAllocator(t, l, base, "n", allocator.WithSyncInterval(20*time.Millisecond))
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, _, _, err = a.Allocate(short, "k;")
	require.Error(t, err)
	require.Positive(t, l.applied.Load(), "a reference landed with its reply lost")
	require.Eventually(t, func() bool {
		_, ok := listStrings(t, l, base+"/value/")[base+"/value/k;/n"]
		return !ok
	}, testTimeout, 10*time.Millisecond)
	require.Contains(t, listStrings(t, l, base+"/value/"), base+"/value/k;/other")
}
