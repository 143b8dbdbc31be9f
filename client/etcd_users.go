package client

import (
	"context"

	"github.com/hivekv/kvstore"
)

// UserEnforcePresence implements kvstore.BackendOperationsUserMgmt.
func (c *etcdClient) UserEnforcePresence(ctx context.Context, name string, roles []string) error {
	return wrapOp("user-enforce-presence", name, kvstore.ErrNotImplemented)
}

// UserEnforceAbsence implements kvstore.BackendOperationsUserMgmt.
func (c *etcdClient) UserEnforceAbsence(ctx context.Context, name string) error {
	return wrapOp("user-enforce-absence", name, kvstore.ErrNotImplemented)
}
