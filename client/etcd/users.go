package etcd

import (
	"context"
	"errors"
	"fmt"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// User management goes through the same request path as key operations
// (begin → request → Release → metrics → trace → wrapOp), so it is rate
// limited and observable like everything else. The metrics scope is a fixed
// "users" rather than the user name: user names are not key paths and must
// not become label values.
const usersMetricsScope = "users"

var _ kvstore.UserRoleRevoker = (*etcdClient)(nil)

// UserEnforcePresence implements kvstore.BackendOperationsUserMgmt.
//
// The user is created without a password: with client-certificate
// authentication etcd takes the user name from the certificate's common
// name, and a password would only open a second, weaker way in. A user that
// already exists is kept as it is (its roles are not revoked); every role in
// roles is then granted, which etcd treats as a no-op for roles the user
// already has. Roles must exist: they carry the key-range permissions and are
// created by whoever sets up the cluster's RBAC, not here.
func (c *etcdClient) UserEnforcePresence(ctx context.Context, name string, roles []string) error {
	const op = "user-enforce-presence"
	if name == "" {
		return wrapOp(op, name, kvstore.ErrEmptyUser)
	}
	log := c.log.WithField(kvstore.FieldUser, name)
	err := c.userRequest(ctx, "UserAdd", name, "", func(cli *clientv3.Client) error {
		_, err := cli.UserAddWithOptions(ctx, name, "", &clientv3.UserAddOptions{NoPassword: true})
		return err
	})
	switch {
	case errors.Is(err, rpctypes.ErrUserAlreadyExist):
		log.Debug("User already exists")
	case err != nil:
		return wrapOp(op, name, fmt.Errorf("adding user %q: %w", name, err))
	default:
		log.Info("User created")
	}
	for _, role := range roles {
		err := c.userRequest(ctx, "UserGrantRole", name, role, func(cli *clientv3.Client) error {
			_, err := cli.UserGrantRole(ctx, name, role)
			return err
		})
		if err != nil {
			return wrapOp(op, name, fmt.Errorf("granting role %q to user %q: %w", role, name, err))
		}
		log.WithField(kvstore.FieldRole, role).Debug("Role granted to user")
	}
	return nil
}

// UserEnforceAbsence implements kvstore.BackendOperationsUserMgmt. A user
// that does not exist is not an error, so the call is idempotent.
func (c *etcdClient) UserEnforceAbsence(ctx context.Context, name string) error {
	const op = "user-enforce-absence"
	if name == "" {
		return wrapOp(op, name, kvstore.ErrEmptyUser)
	}
	err := c.userRequest(ctx, "UserDelete", name, "", func(cli *clientv3.Client) error {
		_, err := cli.UserDelete(ctx, name)
		return err
	})
	switch {
	case errors.Is(err, rpctypes.ErrUserNotFound):
		c.log.WithField(kvstore.FieldUser, name).Debug("User already absent")
		return nil
	case err != nil:
		return wrapOp(op, name, fmt.Errorf("deleting user %q: %w", name, err))
	}
	c.log.WithField(kvstore.FieldUser, name).Info("User deleted")
	return nil
}

// UserRevokeRoles implements kvstore.UserRoleRevoker. Revoking a role the
// user does not have, or from a user that does not exist, succeeds: the
// caller wants the user not to have the role, and it does not.
func (c *etcdClient) UserRevokeRoles(ctx context.Context, name string, roles []string) error {
	const op = "user-revoke-roles"
	if name == "" {
		return wrapOp(op, name, kvstore.ErrEmptyUser)
	}
	log := c.log.WithField(kvstore.FieldUser, name)
	for _, role := range roles {
		err := c.userRequest(ctx, "UserRevokeRole", name, role, func(cli *clientv3.Client) error {
			_, err := cli.UserRevokeRole(ctx, name, role)
			return err
		})
		switch {
		case errors.Is(err, rpctypes.ErrUserNotFound):
			log.Debug("User absent: no role to revoke")
			return nil
		case errors.Is(err, rpctypes.ErrRoleNotGranted):
			log.WithField(kvstore.FieldRole, role).Debug("Role was not granted")
		case err != nil:
			return wrapOp(op, name, fmt.Errorf("revoking role %q from user %q: %w", role, name, err))
		default:
			log.WithField(kvstore.FieldRole, role).Info("Role revoked from user")
		}
	}
	return nil
}

// userRequest runs one auth API request on the standard request path.
func (c *etcdClient) userRequest(ctx context.Context, action, user, role string, send func(*clientv3.Client) error) error {
	var fields logrus.Fields
	if tracing.Load() {
		fields = logrus.Fields{kvstore.FieldUser: user}
		if role != "" {
			fields[kvstore.FieldRole] = role
		}
	}
	_, err := do(ctx, c, request{kind: kindSet, action: action, key: usersMetricsScope, keyField: noKeyField, fields: fields},
		func(cli *clientv3.Client) (struct{}, error) { return struct{}{}, send(cli) })
	return err
}
