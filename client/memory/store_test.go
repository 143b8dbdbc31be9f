package memory

import (
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestMemoryNamedStores(t *testing.T) {
	ctx := testCtx(t)
	name := "TestMemoryNamedStores"
	a := New(name, nil)
	defer a.Close()
	b := New(name, nil)
	defer b.Close()
	require.NoError(t, a.Update(ctx, "k", []byte("v"), false))
	v, err := b.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), v, "clients of one name share the store")
	require.Same(t, Open(name), Open(name))

	other := New(name+"-other", nil)
	defer other.Close()
	v, err = other.Get(ctx, "k")
	require.NoError(t, err)
	require.Nil(t, v, "another name is another store")

	require.Same(t, Open(""), Open(DefaultStoreName))
	require.Equal(t, DefaultStoreName, Open("").Name())

	p1, p2 := NewStore(), NewStore()
	require.NotSame(t, p1, p2)
	require.NotEqual(t, p1.Name(), p2.Name())
	require.NotSame(t, p1, Open(p1.Name()), "a private store cannot be opened by name")
}

func TestMemoryRevisions(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)
	require.EqualValues(t, 1, s.Revision(), "starts at 1 like etcd")

	require.NoError(t, c.Update(ctx, "a", []byte("1"), false))
	require.EqualValues(t, 2, s.Revision())
	require.NoError(t, c.Update(ctx, "b", []byte("1"), false))
	require.NoError(t, c.Update(ctx, "a", []byte("2"), false))
	require.EqualValues(t, 4, s.Revision())

	pairs, err := c.ListPrefix(ctx, "")
	require.NoError(t, err)
	require.EqualValues(t, 4, pairs["a"].ModRevision)
	require.EqualValues(t, 3, pairs["b"].ModRevision)

	// Writes that change nothing do not count.
	require.NoError(t, c.Delete(ctx, "missing"))
	written, err := c.UpdateIfDifferent(ctx, "a", []byte("2"), false)
	require.NoError(t, err)
	require.False(t, written)
	created, err := c.CreateOnly(ctx, "a", []byte("x"), false)
	require.NoError(t, err)
	require.False(t, created)
	require.NoError(t, c.DeletePrefix(ctx, "nothing/"))
	require.EqualValues(t, 4, s.Revision())

	// One DeletePrefix is one revision, however many keys it takes.
	require.NoError(t, c.DeletePrefix(ctx, ""))
	require.EqualValues(t, 5, s.Revision())
	require.Zero(t, s.Len())

	// Stored bytes are the store's own: changing the caller's slice, or a
	// returned one, changes nothing.
	in := []byte("abc")
	require.NoError(t, c.Update(ctx, "k", in, false))
	in[0] = 'X'
	out, err := c.Get(ctx, "k")
	require.NoError(t, err)
	out[1] = 'Y'
	again, err := c.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, []byte("abc"), again)
}

func TestMemoryErrors(t *testing.T) {
	c := newTestClient(t, NewStore(), nil)
	ctx := testCtx(t)

	_, err := c.Get(ctx, "")
	require.EqualError(t, err, `kvstore: get "": empty key`)
	err = c.Update(ctx, "k", make([]byte, 2<<20), false)
	require.ErrorIs(t, err, kvstore.ErrValueTooLarge)
	require.Regexp(t, `^kvstore: update "k": value too large: \d+ bytes`, err.Error())

	// A caller's ctx that has ended fails the operation as on etcd, with
	// deadlines marked as a client timeout.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.Get(cancelled, "k")
	require.ErrorIs(t, err, context.Canceled)
	expired, cancel2 := context.WithTimeout(ctx, 0)
	defer cancel2()
	err = c.Update(expired, "k", nil, false)
	require.ErrorIs(t, err, kvstore.ErrClientTimeout)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestMemoryStatus(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)

	select {
	case err, ok := <-c.Connected(ctx):
		require.False(t, ok, "closed without error, got %v", err)
	default:
		t.Fatal("Connected must be closed at once")
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, <-c.Connected(done), context.Canceled)

	require.NoError(t, c.Update(ctx, "a", nil, true))
	require.NoError(t, c.Update(ctx, "b", nil, false))
	st := c.Status()
	require.Equal(t, kvstore.StateOK, st.State)
	require.Regexp(t, "^"+regexp.QuoteMeta("in-memory: store "+s.Name()+", 2 keys, leases=1, lock leases=1")+"$", st.Msg)

	errs := c.StatusCheckErrors()
	disconnected := c.Disconnected()
	select {
	case <-disconnected:
		t.Fatal("Disconnected closed while connected")
	case <-errs:
		t.Fatal("StatusCheckErrors delivered on a healthy store")
	default:
	}

	c.Close()
	<-disconnected
	_, ok := <-errs
	require.False(t, ok, "StatusCheckErrors is closed by Close")
	<-c.Disconnected()
	require.ErrorIs(t, <-c.Connected(ctx), kvstore.ErrClientClosed)
}

func TestMemoryDisconnectedOnSessionLoss(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	first := c.Disconnected()
	id, err := c.lockLeases.GetLeaseID(kvstore.InitLockPath)
	require.NoError(t, err)

	require.True(t, s.RevokeLease(id))
	select {
	case <-first:
	case <-testCtx(t).Done():
		t.Fatal("Disconnected not closed after the session lease was revoked")
	}
	// A new session: a new lease and an open channel.
	second := c.Disconnected()
	select {
	case <-second:
		t.Fatal("the new session is closed")
	default:
	}
	again, err := c.lockLeases.GetLeaseID(kvstore.InitLockPath)
	require.NoError(t, err)
	require.NotEqual(t, id, again)
}

func TestMemoryUsers(t *testing.T) {
	s := NewStore()
	c := newTestClient(t, s, nil)
	ctx := testCtx(t)

	require.NoError(t, c.UserEnforcePresence(ctx, "alice", []string{"writer"}))
	require.NoError(t, c.UserEnforcePresence(ctx, "alice", []string{"reader", "writer"}), "existing user")
	require.NoError(t, c.UserEnforcePresence(ctx, "bob", nil))
	roles, ok := s.User("alice")
	require.True(t, ok)
	require.Equal(t, []string{"reader", "writer"}, roles)
	require.Equal(t, []string{"alice", "bob"}, s.Users())
	require.NoError(t, c.UserRevokeRoles(ctx, "alice", []string{"writer", "never-granted"}))
	require.NoError(t, c.UserRevokeRoles(ctx, "nobody", []string{"writer"}), "missing user")
	roles, _ = s.User("alice")
	require.Equal(t, []string{"reader"}, roles)
	_, ok = s.User("nobody")
	require.False(t, ok, "revoking does not create users")

	require.NoError(t, c.UserEnforceAbsence(ctx, "alice"))
	require.NoError(t, c.UserEnforceAbsence(ctx, "alice"), "missing user")
	_, ok = s.User("alice")
	require.False(t, ok)
	require.Error(t, c.UserEnforcePresence(ctx, "", nil))

	c.Close()
	require.ErrorIs(t, c.UserEnforcePresence(ctx, "carol", nil), kvstore.ErrClientClosed)
}
