package memory

import (
	"context"
	"sort"

	"github.com/hivekv/kvstore"
)

// The store keeps users and their roles so that code managing etcd users
// (the users cell) can be tested on it; nothing enforces them.

var _ kvstore.UserRoleRevoker = (*client)(nil)

// UserEnforcePresence implements kvstore.BackendOperationsUserMgmt.
func (c *client) UserEnforcePresence(ctx context.Context, name string, roles []string) error {
	if name == "" {
		return wrapOp("user-enforce-presence", name, kvstore.ErrEmptyUser)
	}
	if err := c.begin(ctx); err != nil {
		return wrapOp("user-enforce-presence", name, err)
	}
	s := c.store
	s.mu.Lock()
	defer s.mu.Unlock()
	have, ok := s.users[name]
	if !ok {
		have = make(map[string]struct{})
		s.users[name] = have
	}
	for _, r := range roles {
		have[r] = struct{}{}
	}
	return nil
}

// UserEnforceAbsence implements kvstore.BackendOperationsUserMgmt.
func (c *client) UserEnforceAbsence(ctx context.Context, name string) error {
	if name == "" {
		return wrapOp("user-enforce-absence", name, kvstore.ErrEmptyUser)
	}
	if err := c.begin(ctx); err != nil {
		return wrapOp("user-enforce-absence", name, err)
	}
	c.store.mu.Lock()
	delete(c.store.users, name)
	c.store.mu.Unlock()
	return nil
}

// UserRevokeRoles implements kvstore.UserRoleRevoker.
func (c *client) UserRevokeRoles(ctx context.Context, name string, roles []string) error {
	if name == "" {
		return wrapOp("user-revoke-roles", name, kvstore.ErrEmptyUser)
	}
	if err := c.begin(ctx); err != nil {
		return wrapOp("user-revoke-roles", name, err)
	}
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	for _, r := range roles {
		delete(c.store.users[name], r)
	}
	return nil
}

// User returns the roles of user name, sorted, and whether it exists.
func (s *Store) User(name string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	have, ok := s.users[name]
	if !ok {
		return nil, false
	}
	roles := make([]string, 0, len(have))
	for r := range have {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles, true
}

// Users returns the names of all users, sorted.
func (s *Store) Users() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.users))
	for n := range s.users {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
