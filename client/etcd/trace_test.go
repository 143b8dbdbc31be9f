package etcd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// traced returns the trace entries whose key or prefix field starts with
// prefix: other tests may run operations while tracing is on.
func traced(prefix string) []*logrus.Entry {
	var out []*logrus.Entry
	for _, e := range etcd.TraceHook.AllEntries() {
		for _, f := range []string{"key", "prefix"} {
			if s, ok := e.Data[f].(string); ok && strings.HasPrefix(s, prefix) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// TestTrace toggles the process-wide tracing flag, so it does not run in
// parallel with the other tests of this file.
func TestTrace(t *testing.T) {
	t.Cleanup(etcd.DisableTracing)

	t.Run("function", func(t *testing.T) {
		msg := "trace-test-" + hivetest.UniquePrefix(t) // unique across -count runs
		etcd.DisableTracing()
		require.False(t, etcd.TracingEnabled())
		etcd.Trace(msg, nil, logrus.Fields{"key": "x"})
		for _, e := range etcd.TraceHook.AllEntries() {
			require.NotEqual(t, msg, e.Message, "traced while disabled")
		}

		etcd.EnableTracing()
		require.True(t, etcd.TracingEnabled())
		boom := errors.New("boom")
		etcd.Trace(msg, boom, logrus.Fields{"key": "x", "valueBytes": 3})
		var found *logrus.Entry
		for _, e := range etcd.TraceHook.AllEntries() {
			if e.Message == msg {
				found = e
			}
		}
		require.NotNil(t, found)
		require.Equal(t, logrus.DebugLevel, found.Level)
		require.Equal(t, "x", found.Data["key"])
		require.Equal(t, 3, found.Data["valueBytes"])
		require.Equal(t, boom, found.Data[logrus.ErrorKey])
		require.Equal(t, "kvstore", found.Data["subsys"])
	})

	t.Run("operations", func(t *testing.T) {
		srv := hivetest.SharedServer(t)
		c := newEtcdClient(t, srv.Endpoints(), nil)
		ctx := t.Context()
		prefix := hivetest.UniquePrefix(t)

		etcd.EnableTracing()
		require.NoError(t, c.Update(ctx, prefix+"a", []byte("12345"), true))
		_, err := c.Get(ctx, prefix+"a")
		require.NoError(t, err)
		require.NoError(t, c.Delete(ctx, prefix+"a"))

		type op struct {
			msg, key string
			failed   bool
		}
		var got []op
		for _, e := range traced(prefix) {
			_, failed := e.Data[logrus.ErrorKey]
			got = append(got, op{msg: e.Message, key: e.Data["key"].(string), failed: failed})
			if e.Message == "Update" {
				require.Equal(t, 5, e.Data["valueBytes"])
				require.Equal(t, true, e.Data["lease"])
			}
		}
		want := []op{
			{msg: "Update", key: prefix + "a"},
			{msg: "Get", key: prefix + "a"},
			{msg: "Delete", key: prefix + "a"},
		}
		require.Subset(t, got, want)

		// Nothing more once tracing is off.
		etcd.DisableTracing()
		before := len(traced(prefix))
		require.NoError(t, c.Update(ctx, prefix+"b", []byte("v"), false))
		require.Len(t, traced(prefix), before)
	})
}

// TestTraceHintOnTimeout checks that an operation that runs out of time says
// the store timed out while still matching the deadline error.
func TestTraceHintOnTimeout(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	c := newEtcdClient(t, srv.Endpoints(), nil)
	ctx, cancel := context.WithTimeout(t.Context(), -time.Second)
	defer cancel()
	_, err := c.Get(ctx, hivetest.UniquePrefix(t)+"k")
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "etcd client timeout exceeded")
}
