package txnlease

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// book is a fake lease book: the keys attached, each to lease 7.
type book map[string]bool

func (b book) attach(key string) (int, bool, error) {
	if key == "fail" {
		return 0, false, errors.New("no lease")
	}
	fresh := !b[key]
	b[key] = true
	return 7, fresh, nil
}

func (b book) release(key string) { delete(b, key) }

func TestSettle(t *testing.T) {
	txn := kvstore.Txn{
		Then: []kvstore.Op{kvstore.OpPut("then", nil, true), kvstore.OpPut("both", nil, true), kvstore.OpGet("x")},
		Else: []kvstore.Op{kvstore.OpPut("both", nil, true), kvstore.OpPut("else", nil, true),
			kvstore.OpPut("old", nil, true), kvstore.OpPut("plain", nil, false), kvstore.OpDelete("gone")},
	}
	for _, tc := range []struct {
		ran  Branch
		want book
	}{
		{ThenBranch, book{"then": true, "both": true, "old": true, "plain": true, "gone": true}},
		{ElseBranch, book{"both": true, "else": true, "old": true}},
		{NoBranch, book{"old": true, "plain": true, "gone": true}},
	} {
		b := book{"old": true, "plain": true, "gone": true}
		p, err := Prepare(txn, b.attach, b.release)
		require.NoError(t, err)
		require.Equal(t, []int{7}, p.Leases())
		require.Equal(t, []int{7, 7, 0}, p.Then)
		p.Settle(txn, tc.ran, b.release)
		require.Equal(t, tc.want, b, "branch %d", tc.ran)
	}
}

func TestPrepareFailureReleasesWhatItAttached(t *testing.T) {
	b := book{"old": true}
	txn := kvstore.Txn{Then: []kvstore.Op{kvstore.OpPut("new", nil, true), kvstore.OpPut("old", nil, true), kvstore.OpPut("fail", nil, true)}}
	_, err := Prepare(txn, b.attach, b.release)
	require.Error(t, err)
	require.Equal(t, book{"old": true}, b)
}
