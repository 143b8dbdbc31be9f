package hivetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Helpers for tests of etcd RBAC: user management in the kvstore client only
// creates users and grants existing roles, so the roles, with their key-range
// permissions, are set up here through the root client, the way an operator
// or Cilium's etcd init would.

// adminTimeout bounds each RBAC request of these helpers.
const adminTimeout = 10 * time.Second

// Permission is a key range a role may access.
type Permission struct {
	// Key is the start of the range.
	Key string
	// RangeEnd is the end of the range (exclusive); "" means Key alone.
	RangeEnd string
	// Type is clientv3.PermRead, PermWrite or PermReadWrite.
	Type clientv3.PermissionType
}

// ReadPrefix allows reading every key that starts with prefix.
func ReadPrefix(prefix string) Permission {
	return Permission{Key: prefix, RangeEnd: clientv3.GetPrefixRangeEnd(prefix), Type: clientv3.PermissionType(clientv3.PermRead)}
}

// ReadWritePrefix allows reading and writing every key that starts with
// prefix.
func ReadWritePrefix(prefix string) Permission {
	return Permission{Key: prefix, RangeEnd: clientv3.GetPrefixRangeEnd(prefix), Type: clientv3.PermissionType(clientv3.PermReadWrite)}
}

// CreateRole creates role, if it does not exist yet, and grants it perms,
// through the server's root client. It works with and without WithAuth
// (etcd keeps roles while authentication is off too).
func (s *Server) CreateRole(tb testing.TB, role string, perms ...Permission) {
	tb.Helper()
	cli := s.adminClient(tb)
	defer func() { _ = cli.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := cli.RoleAdd(ctx, role); err != nil && !errors.Is(err, rpctypes.ErrRoleAlreadyExist) {
		tb.Fatalf("hivetest: add role %q: %v", role, err)
	}
	for _, p := range perms {
		if _, err := cli.RoleGrantPermission(ctx, role, p.Key, p.RangeEnd, p.Type); err != nil {
			tb.Fatalf("hivetest: grant %v on [%q, %q) to role %q: %v", p.Type, p.Key, p.RangeEnd, role, err)
		}
	}
}

// UserRoles returns the roles of user and whether the user exists, as seen
// by the root client.
func (s *Server) UserRoles(tb testing.TB, user string) ([]string, bool) {
	tb.Helper()
	cli := s.adminClient(tb)
	defer func() { _ = cli.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	resp, err := cli.UserGet(ctx, user)
	if errors.Is(err, rpctypes.ErrUserNotFound) {
		return nil, false
	}
	if err != nil {
		tb.Fatalf("hivetest: get user %q: %v", user, err)
	}
	return resp.Roles, true
}

// CertClient returns a raw client that presents the given client certificate
// and no password, so that etcd authenticates it as the user named by the
// certificate's common name (see Certs.ClientCertFor). The server must have
// been started WithTLS; with WithAuth the user's roles decide what the client
// may do. The client is closed when the test ends.
func (s *Server) CertClient(tb testing.TB, certFile, keyFile string) *clientv3.Client {
	tb.Helper()
	if s.cfg.certs == nil {
		tb.Fatalf("hivetest: CertClient needs a server started WithTLS")
	}
	tlsCfg, err := s.cfg.certs.clientTLSConfig(certFile, keyFile)
	if err != nil {
		tb.Fatalf("hivetest: %v", err)
	}
	cfg := s.clientConfig(s.Endpoints(), false)
	cfg.TLS = tlsCfg
	return newTestClient(tb, cfg)
}

// adminClient returns a root client that the caller closes: these helpers
// may be called in retry loops, where a client per call kept until the end
// of the test (as Client does) would pile up.
func (s *Server) adminClient(tb testing.TB) *clientv3.Client {
	tb.Helper()
	cli, err := clientv3.New(s.ClientConfig())
	if err != nil {
		tb.Fatalf("hivetest: new etcd client: %v", err)
	}
	return cli
}
