package users_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/users"
)

func newSyncer(t *testing.T) (*users.Syncer, string) {
	c := newClient(t)
	key := hivetest.UniquePrefix(t) + "managed"
	return &users.Syncer{KV: c, Users: c, StateKey: key, Log: logrus.StandardLogger()}, key
}

// namesAndTwoRoles returns this test's name prefix and two roles created
// on the shared server.
func namesAndTwoRoles(t *testing.T) (n, r1, r2 string) {
	n = names(t)
	r1, r2 = n+"r1", n+"r2"
	hivetest.SharedServer(t).CreateRole(t, r1)
	hivetest.SharedServer(t).CreateRole(t, r2)
	return n, r1, r2
}

func TestUsersSyncCreatesChangesAndDeletes(t *testing.T) {
	n, r1, r2 := namesAndTwoRoles(t)
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

	// alice loses r2 (revoked, she is not deleted), bob leaves the file
	// (deleted).
	counted := &countingRevoker{countingUsers{BackendOperationsUserMgmt: s.Users}, s.Users.(kvstore.UserRoleRevoker)}
	s.Users = counted
	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r1}}))
	requireRoles(t, alice, r1)
	requireAbsent(t, bob)
	require.Equal(t, []string{bob}, counted.deleted, "only bob is deleted")

	// An empty set removes every managed user.
	require.NoError(t, s.Sync(ctx, map[string][]string{}))
	requireAbsent(t, alice)
}

// A backend without kvstore.UserRoleRevoker still gets the roles right, by
// recreating the user.
func TestUsersSyncRecreatesWithoutRevoker(t *testing.T) {
	n, r1, r2 := namesAndTwoRoles(t)
	alice := n + "alice"
	s, _ := newSyncer(t)
	grantOnly := &countingUsers{BackendOperationsUserMgmt: s.Users}
	s.Users = grantOnly
	_, canRevoke := s.Users.(kvstore.UserRoleRevoker)
	require.False(t, canRevoke)
	ctx := context.Background()

	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r1, r2}}))
	require.NoError(t, s.Sync(ctx, map[string][]string{alice: {r2}}))
	requireRoles(t, alice, r2)
	require.Equal(t, []string{alice}, grantOnly.deleted, "recreated")
}

// countingUsers records deletions and hides every method but those of
// kvstore.BackendOperationsUserMgmt: it is a backend that cannot revoke.
type countingUsers struct {
	kvstore.BackendOperationsUserMgmt
	deleted []string
}

// countingRevoker is countingUsers for a backend that can revoke.
type countingRevoker struct {
	countingUsers
	kvstore.UserRoleRevoker
}

func (c *countingUsers) UserEnforceAbsence(ctx context.Context, name string) error {
	c.deleted = append(c.deleted, name)
	return c.BackendOperationsUserMgmt.UserEnforceAbsence(ctx, name)
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
