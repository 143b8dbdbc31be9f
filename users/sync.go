package users

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// Syncer applies a desired set of users to the store. It is what Cell runs
// on every change of the users file; it is exported for programs that get
// their users from elsewhere than a file.
type Syncer struct {
	// KV stores the managed-users record.
	KV kvstore.BackendOperations
	// Users creates and deletes users.
	Users kvstore.BackendOperationsUserMgmt
	// StateKey is the key of the managed-users record.
	StateKey string
	// Log receives one line per user created, changed or deleted.
	Log logrus.FieldLogger
}

// Sync makes the store's users match desired (user name → roles, roles
// sorted): it creates or completes every desired user and deletes every
// user it managed before that desired no longer lists. It is idempotent; on
// error it can simply be called again with the same input, and nothing
// recorded is lost.
//
// Order matters for crash safety: the record is first widened to include
// every desired user (so a user is recorded before it exists), users are
// then created and deleted, and only when all of that succeeded is the
// record narrowed to desired.
func (s *Syncer) Sync(ctx context.Context, desired map[string][]string) error {
	managed, err := loadState(ctx, s.KV, s.StateKey)
	if err != nil {
		return err
	}
	intent := union(managed, desired)
	if !equalUsers(intent, managed) {
		if err := saveState(ctx, s.KV, s.StateKey, intent); err != nil {
			return err
		}
	}

	var errs []error
	for _, name := range sortedNames(desired) {
		if err := s.enforce(ctx, name, managed[name], desired[name]); err != nil {
			errs = append(errs, err)
			continue
		}
		if old, ok := managed[name]; !ok || !slices.Equal(old, desired[name]) {
			s.Log.WithFields(logrus.Fields{kvstore.FieldUser: name, "roles": desired[name]}).
				Info("User enforced from the users file")
		}
	}
	for _, name := range sortedNames(managed) {
		if _, keep := desired[name]; keep {
			continue
		}
		if err := s.Users.UserEnforceAbsence(ctx, name); err != nil {
			errs = append(errs, err)
			continue
		}
		s.Log.WithField(kvstore.FieldUser, name).Info("User deleted: no longer in the users file")
	}
	if len(errs) > 0 {
		// The widened record stays, so the next Sync retries everything.
		return fmt.Errorf("syncing users: %w", errors.Join(errs...))
	}
	if !equalUsers(desired, intent) {
		return saveState(ctx, s.KV, s.StateKey, desired)
	}
	return nil
}

// enforce makes user name have roles, given that it had (at most) the
// managed roles old. Roles that were dropped from the file are revoked
// after the new ones are granted, so the user never holds less than both
// versions agree on; a backend that cannot revoke gets the user deleted and
// created again instead.
func (s *Syncer) enforce(ctx context.Context, name string, old, roles []string) error {
	gone := dropped(old, roles)
	revoker, canRevoke := s.Users.(kvstore.UserRoleRevoker)
	if len(gone) > 0 && !canRevoke {
		s.Log.WithFields(logrus.Fields{kvstore.FieldUser: name, "roles": roles}).
			Info("Recreating user to drop roles it no longer has in the users file: the backend cannot revoke roles")
		if err := s.Users.UserEnforceAbsence(ctx, name); err != nil {
			return err
		}
		gone = nil
	}
	if err := s.Users.UserEnforcePresence(ctx, name, roles); err != nil {
		return err
	}
	if len(gone) > 0 {
		return revoker.UserRevokeRoles(ctx, name, gone)
	}
	return nil
}

func sortedNames(m map[string][]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
