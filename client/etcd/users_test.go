package etcd_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/hivetest"
)

// User management on an etcd that enforces RBAC with client certificates,
// as a clustermesh etcd does: a user created by UserEnforcePresence (without
// a password) is who a certificate with its name as CN authenticates as, and
// gets exactly what its roles allow.
func TestUserEnforcePresenceAndAbsenceWithAuth(t *testing.T) {
	certs := hivetest.GenerateCerts(t)
	srv := hivetest.StartServer(t, hivetest.WithTLS(certs), hivetest.WithAuth("root-pw"))
	const (
		user = "remote-reader"
		role = "state-reader"
	)
	srv.CreateRole(t, role, hivetest.ReadPrefix("cilium/state/"))

	// Our client logs in as root (certificate and password from the file).
	c, errCh := etcd.New(t.Context(), map[string]string{kvstore.EtcdOptionConfig: srv.WriteClientConfigFile(t)}, nil)
	require.NotNil(t, c)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Update(ctx, "cilium/state/nodes/n1", []byte("node"), false))
	require.NoError(t, c.Update(ctx, "cilium/other", []byte("secret"), false))

	require.NoError(t, c.UserEnforcePresence(ctx, user, []string{role}))
	require.NoError(t, c.UserEnforcePresence(ctx, user, []string{role}), "idempotent")
	roles, ok := srv.UserRoles(t, user)
	require.True(t, ok)
	require.Equal(t, []string{role}, roles)

	certFile, keyFile := certs.ClientCertFor(t, user)
	asUser := srv.CertClient(t, certFile, keyFile)
	resp, err := asUser.Get(ctx, "cilium/state/nodes/n1")
	require.NoError(t, err, "the role allows reading under cilium/state/")
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "node", string(resp.Kvs[0].Value))
	_, err = asUser.Put(ctx, "cilium/state/nodes/n2", "x")
	require.ErrorContains(t, err, "permission denied", "the role is read-only")
	_, err = asUser.Get(ctx, "cilium/other")
	require.ErrorContains(t, err, "permission denied", "nothing outside cilium/state/")

	// A second role, then revoked: the user keeps the first, and what the
	// revoked role allowed is refused again.
	const writer = "state-writer"
	srv.CreateRole(t, writer, hivetest.ReadWritePrefix("cilium/state/"))
	require.NoError(t, c.UserEnforcePresence(ctx, user, []string{role, writer}))
	_, err = asUser.Put(ctx, "cilium/state/nodes/n2", "x")
	require.NoError(t, err, "the writer role allows writing")
	revoker := c.(kvstore.UserRoleRevoker)
	require.NoError(t, revoker.UserRevokeRoles(ctx, user, []string{writer}))
	require.NoError(t, revoker.UserRevokeRoles(ctx, user, []string{writer}), "a role not granted is not an error")
	roles, _ = srv.UserRoles(t, user)
	require.Equal(t, []string{role}, roles)
	require.Eventually(t, func() bool {
		_, err := asUser.Put(ctx, "cilium/state/nodes/n3", "x")
		return err != nil && strings.Contains(err.Error(), "permission denied")
	}, 10*time.Second, 20*time.Millisecond, "writing is refused once the role is revoked")
	require.ErrorContains(t, revoker.UserRevokeRoles(ctx, "", []string{writer}), "empty user name")

	require.NoError(t, c.UserEnforceAbsence(ctx, user))
	require.NoError(t, c.UserEnforceAbsence(ctx, user), "idempotent")
	require.NoError(t, revoker.UserRevokeRoles(ctx, user, []string{role}), "a missing user is not an error")
	_, ok = srv.UserRoles(t, user)
	require.False(t, ok)
	_, err = asUser.Get(ctx, "cilium/state/nodes/n1")
	require.Error(t, err, "a deleted user has no access")
}

func TestUserEnforcePresenceErrors(t *testing.T) {
	srv := hivetest.SharedServer(t)
	c, errCh := etcd.New(t.Context(), map[string]string{kvstore.EtcdAddrOption: srv.Endpoint()}, nil)
	t.Cleanup(c.Close)
	require.NoError(t, <-errCh)
	ctx := t.Context()

	err := c.UserEnforcePresence(ctx, "", nil)
	require.ErrorContains(t, err, "empty user name")

	user := "users-errors-" + t.Name()
	t.Cleanup(func() { _ = c.UserEnforceAbsence(context.Background(), user) })
	err = c.UserEnforcePresence(ctx, user, []string{"no-such-role"})
	require.ErrorContains(t, err, `granting role "no-such-role" to user "`+user+`"`)
	require.ErrorContains(t, err, "role name not found")

	require.ErrorContains(t, c.UserEnforceAbsence(ctx, ""), "empty user name")

	c.Close()
	require.ErrorIs(t, c.UserEnforcePresence(ctx, user, nil), kvstore.ErrClientClosed)
}
