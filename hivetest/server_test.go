package hivetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// shortCtx bounds one client call in a test.
func shortCtx(tb testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), d)
	tb.Cleanup(cancel)
	return ctx
}

func TestServerPutGet(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	require.True(t, s.Running())
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, s.Endpoint())
	require.Equal(t, []string{s.Endpoint()}, s.Endpoints())

	cli := s.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)
	resp, err := cli.Get(shortCtx(t, 5*time.Second), "k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "v", string(resp.Kvs[0].Value))
}

func TestServerStopRestart(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	cli := s.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), "k", "before")
	require.NoError(t, err)

	// An open watch must neither slow Stop down nor die with it.
	wctx, wcancel := context.WithCancel(t.Context())
	defer wcancel()
	wch := cli.Watch(clientv3.WithRequireLeader(wctx), "k")

	start := time.Now()
	require.NoError(t, s.Stop())
	require.Less(t, time.Since(start), 3*time.Second, "Stop waited for the open watch")
	require.False(t, s.Running())
	require.NoError(t, s.Stop(), "Stop is idempotent")

	_, err = cli.Get(shortCtx(t, 500*time.Millisecond), "k")
	require.Error(t, err)

	require.NoError(t, s.Restart(shortCtx(t, 30*time.Second)))
	require.True(t, s.Running())
	require.Error(t, s.Restart(shortCtx(t, time.Second)), "restart of a running member")

	require.Eventually(t, func() bool {
		resp, err := cli.Get(shortCtx(t, time.Second), "k")
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "before"
	}, 10*time.Second, 50*time.Millisecond)

	_, err = cli.Put(shortCtx(t, 5*time.Second), "k", "after")
	require.NoError(t, err)
	// The resumed watch may first repeat the event at its creation revision
	// (clientv3 resumes there inclusively), so look for "after".
	timeout := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case wr := <-wch:
			require.NoError(t, wr.Err())
			for _, ev := range wr.Events {
				seen = seen || string(ev.Kv.Value) == "after"
			}
		case <-timeout:
			t.Fatal("watch did not resume after restart")
		}
	}
}

func TestServerKill(t *testing.T) {
	t.Parallel()
	s := StartServer(t, WithLogLevel("none"))
	cli := s.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)

	require.NoError(t, s.Kill())
	require.False(t, s.Running())
	require.NoError(t, s.Kill())
	require.NoError(t, s.Restart(shortCtx(t, 30*time.Second)))
	require.Eventually(t, func() bool {
		resp, err := cli.Get(shortCtx(t, time.Second), "k")
		return err == nil && len(resp.Kvs) == 1
	}, 10*time.Second, 50*time.Millisecond)

	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	require.ErrorIs(t, s.Restart(shortCtx(t, time.Second)), errClosed)
}

func TestNewServerOwnsTempDir(t *testing.T) {
	t.Parallel()
	s, err := NewServer(shortCtx(t, 30*time.Second), "", WithMaxRequestBytes(64*1024))
	require.NoError(t, err)
	dir := s.DataDir()
	require.DirExists(t, dir)

	cli, err := clientv3.New(s.ClientConfig())
	require.NoError(t, err)
	_, err = cli.Put(shortCtx(t, 5*time.Second), "big", string(make([]byte, 128*1024)))
	require.Error(t, err, "WithMaxRequestBytes limit not applied")
	require.NoError(t, cli.Close())

	require.NoError(t, s.Close())
	require.NoDirExists(t, dir)
}

func TestSharedServer(t *testing.T) {
	t.Parallel()
	s := SharedServer(t)
	require.Same(t, s, SharedServer(t))
	p1, p2 := UniquePrefix(t), UniquePrefix(t)
	require.NotEqual(t, p1, p2)
	require.Regexp(t, `^test/TestSharedServer/[0-9a-f]{8}/$`, p1)

	cli := s.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), p1+"k", "v")
	require.NoError(t, err)
	resp, err := cli.Get(shortCtx(t, 5*time.Second), p2, clientv3.WithPrefix())
	require.NoError(t, err)
	require.Empty(t, resp.Kvs)

	t.Run("sub/test", func(t *testing.T) {
		require.Regexp(t, `^test/TestSharedServer_sub_test/[0-9a-f]{8}/$`, UniquePrefix(t))
	})
}

// The demo keeps its data across process restarts by passing the same
// directory to NewServer; ports and member name change, data and auth stay.
func TestNewServerReopen(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "etcd")
	put := func(s *Server) {
		cli, err := clientv3.New(s.ClientConfig())
		require.NoError(t, err)
		defer func() { _ = cli.Close() }()
		_, err = cli.Put(shortCtx(t, 5*time.Second), "k", "v")
		require.NoError(t, err)
	}
	s, err := NewServer(shortCtx(t, 30*time.Second), dir, WithAuth("pw"))
	require.NoError(t, err)
	put(s)
	require.NoError(t, s.Close())
	require.DirExists(t, dir, "a caller's data dir must survive Close")

	s, err = NewServer(shortCtx(t, 30*time.Second), dir, WithAuth("pw"))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	cli, err := clientv3.New(s.ClientConfig())
	require.NoError(t, err)
	defer func() { _ = cli.Close() }()
	resp, err := cli.Get(shortCtx(t, 5*time.Second), "k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
}
