package users

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/hivekv/kvstore"
)

// managedState is the content of the state key: the users the cell manages
// and the roles it granted them. A version field leaves room for a format
// change without guessing.
type managedState struct {
	Version int                 `json:"version"`
	Users   map[string][]string `json:"users"`
}

const stateVersion = 1

// loadState reads the managed users; a missing key means none.
func loadState(ctx context.Context, kv kvstore.BackendOperations, key string) (map[string][]string, error) {
	data, err := kv.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("reading the managed users from %q: %w", key, err)
	}
	if data == nil {
		return map[string][]string{}, nil
	}
	var st managedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("the managed users in %q are unreadable (delete the key to start over): %w", key, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("the managed users in %q have format version %d, this program knows %d", key, st.Version, stateVersion)
	}
	if st.Users == nil {
		st.Users = map[string][]string{}
	}
	return st.Users, nil
}

// saveState records users as the managed set. It writes without a lease:
// the record must outlive the process.
func saveState(ctx context.Context, kv kvstore.BackendOperations, key string, users map[string][]string) error {
	data, err := json.Marshal(managedState{Version: stateVersion, Users: users})
	if err != nil {
		return err
	}
	if _, err := kv.UpdateIfDifferent(ctx, key, data, false); err != nil {
		return fmt.Errorf("recording the managed users in %q: %w", key, err)
	}
	return nil
}

// union returns a ∪ b, with the roles of users in both merged.
func union(a, b map[string][]string) map[string][]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string][]string{}
	}
	for name, roles := range b {
		merged := append(slices.Clone(out[name]), roles...)
		slices.Sort(merged)
		out[name] = slices.Compact(merged)
	}
	return out
}

// equalUsers reports whether a and b hold the same users and roles.
func equalUsers(a, b map[string][]string) bool {
	return maps.EqualFunc(a, b, slices.Equal)
}

// dropped returns the roles of old that roles no longer has (both sorted).
func dropped(old, roles []string) []string {
	var out []string
	for _, r := range old {
		if _, found := slices.BinarySearch(roles, r); !found {
			out = append(out, r)
		}
	}
	return out
}
