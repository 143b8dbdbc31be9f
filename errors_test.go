package kvstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestHint(t *testing.T) {
	other := errors.New("connection refused")

	expiredCtx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	<-expiredCtx.Done()

	tests := []struct {
		name string
		in   error
		// hinted says whether Hint must turn in into a timeout error; if
		// not, it must return in unchanged.
		hinted bool
	}{
		{name: "nil", in: nil},
		{name: "other error", in: other},
		{name: "canceled is not a timeout", in: context.Canceled},
		{name: "deadline exceeded", in: context.DeadlineExceeded, hinted: true},
		{name: "wrapped deadline", in: fmt.Errorf("kvstore: get %q: %w", "cilium/x", context.DeadlineExceeded), hinted: true},
		{name: "expired ctx", in: expiredCtx.Err(), hinted: true},
		{name: "joined with deadline", in: errors.Join(other, context.DeadlineExceeded), hinted: true},
		{name: "already hinted", in: kvstore.Hint(context.DeadlineExceeded)},
		{name: "wrapped hinted", in: fmt.Errorf("op: %w", kvstore.Hint(context.DeadlineExceeded))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := kvstore.Hint(tt.in)
			if !tt.hinted {
				require.Equal(t, tt.in, got)
				return
			}
			require.ErrorIs(t, got, kvstore.ErrClientTimeout)
			require.ErrorIs(t, got, context.DeadlineExceeded)
			require.ErrorIs(t, got, tt.in)
			require.Regexp(t, "^etcd client timeout exceeded: ", got.Error())
			require.Contains(t, got.Error(), tt.in.Error(), "the cause stays in the message")

			// Hinting twice changes nothing.
			again := kvstore.Hint(got)
			require.Equal(t, got, again)
			require.Equal(t, got.Error(), again.Error())
		})
	}
}

// The sentinels must be distinct, or errors.Is would confuse them.
func TestSentinelErrorsDistinct(t *testing.T) {
	all := []error{
		kvstore.ErrLockLeaseExpired, kvstore.ErrEmptyKey, kvstore.ErrValueTooLarge,
		kvstore.ErrClientClosed, kvstore.ErrNotConfigured, kvstore.ErrUnknownBackend,
		kvstore.ErrInvalidOption, kvstore.ErrInvalidConfig, kvstore.ErrForeignLocker,
		kvstore.ErrNotImplemented, kvstore.ErrClientTimeout,
	}
	for i, a := range all {
		require.NotEmpty(t, a.Error())
		for j, b := range all {
			if i != j {
				require.NotErrorIs(t, a, b, "%q matches %q", a, b)
			}
		}
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	for _, err := range []error{kvstore.ErrEmptyKey, kvstore.ErrEmptyUser, kvstore.ErrValueTooLarge, kvstore.ErrInvalidTxn, kvstore.ErrForeignLocker, kvstore.ErrNotImplemented} {
		wrapped := &kvstore.OpError{Op: "update", Key: "k", Err: err}
		if !kvstore.RefusedBeforeSending(wrapped) {
			t.Errorf("RefusedBeforeSending(%v) = false, want true", wrapped)
		}
	}
	for _, err := range []error{nil, kvstore.ErrClientClosed, kvstore.ErrLockLeaseExpired, context.DeadlineExceeded, kvstore.Hint(context.DeadlineExceeded), errors.New("etcdserver: leader changed")} {
		if kvstore.RefusedBeforeSending(err) {
			t.Errorf("RefusedBeforeSending(%v) = true, want false: its outcome is unknown", err)
		}
	}
}
