package users_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/users"
)

func newSyncer(t *testing.T) (*users.Syncer, string) {
	c := newClient(t)
	key := hivetest.UniquePrefix(t) + "managed"
	return &users.Syncer{KV: c, Users: c, StateKey: key, Log: logrus.StandardLogger()}, key
}

func TestUsersSyncCreatesChangesAndDeletes(t *testing.T) {
	srv := hivetest.SharedServer(t)
	n := names(t)
	r1, r2 := n+"r1", n+"r2"
	srv.CreateRole(t, r1)
	srv.CreateRole(t, r2)
	alice, bob := n+"alice", n+"bob"
	s, key := newSyncer(t)
	ctx := context.Background()

	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r1, r2}, bob: {r1}}))
	requireRoles(t, alice, r1, r2)
	requireRoles(t, bob, r1)
	state, err := s.KV.Get(ctx, key)
	require.NoError(t, err)
	var recorded struct {
		Version int
		Users   map[string][]string
	}
	require.NoError(t, json.Unmarshal(state, &recorded))
	require.Equal(t, 1, recorded.Version)
	require.Equal(t, map[string][]string{alice: {r1, r2}, bob: {r1}}, recorded.Users)

	// Same input again: nothing to do, no error.
	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r1, r2}, bob: {r1}}))

	// alice loses r2 (recreated), bob leaves the file (deleted).
	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r1}}))
	requireRoles(t, alice, r1)
	requireAbsent(t, bob)

	// An empty set removes every managed user.
	require.NoError(t, s.Sync(ctx, map[string][]string{}))
	requireAbsent(t, alice)
}

func TestUsersSyncLeavesOtherUsersAlone(t *testing.T) {
	srv := hivetest.SharedServer(t)
	n := names(t)
	other := n + "other"
	_, err := srv.Client(t).UserAdd(context.Background(), other, "pw")
	require.NoError(t, err)
	s, _ := newSyncer(t)

	require.NoError(t, s.Sync(context.Background(), map[string][]string{n + "mine": nil}))
	require.NoError(t, s.Sync(context.Background(), map[string][]string{}))
	requireAbsent(t, n+"mine")
	requireRoles(t, other) // exists, never listed, never touched
}

// A failure leaves the intent recorded: the user that could not be completed
// is still known, and the next Sync finishes (or removes) it.
func TestUsersSyncFailureKeepsIntent(t *testing.T) {
	srv := hivetest.SharedServer(t)
	n := names(t)
	dave, role := n+"dave", n+"late-role"
	s, key := newSyncer(t)
	ctx := context.Background()

	err := s.Sync(ctx, map[string][]string{dave: {role}})
	require.ErrorContains(t, err, role, "the missing role is named")
	state, err := s.KV.Get(ctx, key)
	require.NoError(t, err)
	require.Contains(t, string(state), dave, "dave is recorded before he is created")

	srv.CreateRole(t, role)
	require.NoError(t, s.Sync(ctx, map[string][]string{dave: {role}}))
	requireRoles(t, dave, role)

	// Even had the process died after the failure, a later Sync without
	// dave deletes him, because the record names him.
	require.NoError(t, s.Sync(ctx, map[string][]string{}))
	requireAbsent(t, dave)
}

func TestUsersSyncRefusesUnreadableState(t *testing.T) {
	n := names(t)
	s, key := newSyncer(t)
	ctx := context.Background()
	require.NoError(t, s.KV.Update(ctx, key, []byte("not json"), false))

	err := s.Sync(ctx, map[string][]string{n + "x": nil})
	require.ErrorContains(t, err, "unreadable")
	requireAbsent(t, n+"x")
}
