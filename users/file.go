package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"sigs.k8s.io/yaml"
)

// User is one entry of the users file.
type User struct {
	// Name is the etcd user name (the CN of its client certificate).
	Name string `json:"name"`
	// Roles are the roles the user must have.
	Roles []string `json:"roles,omitempty"`
	// Role is Cilium's single-role spelling; it is merged into Roles.
	Role string `json:"role,omitempty"`
}

// ErrNoUsersList is returned by ParseFile for a file that holds no list of
// users: empty, only comments, or a "users:" key without a value. Such a file
// is far more often caught half-written than meant, so it changes nothing;
// an explicit empty list ("[]" or "users: []") removes every managed user.
var ErrNoUsersList = errors.New("the users file holds no list of users (is it being written?): " +
	"write an empty list, [] or users: [], to remove every managed user")

// reservedUser is etcd's superuser: it is set up with the cluster and
// deleting it (when a file that listed it changes) must never be automatic.
const reservedUser = "root"

// ParseFile parses a users file and returns the users by name, with sorted,
// de-duplicated roles. See the package documentation for the format. Unknown
// fields are errors: a misspelt "roles" must not silently grant nothing.
func ParseFile(data []byte) (map[string][]string, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	js = bytes.TrimSpace(js)
	var list []User
	switch {
	case len(js) == 0 || bytes.Equal(js, []byte("null")):
		// No document at all is what a reader sees while a writer that
		// truncates first (cp, shell redirection, most editors) is at work;
		// reading it as "no users" would delete every managed user.
		return nil, ErrNoUsersList
	case js[0] == '[':
		if err := decodeStrict(js, &list); err != nil {
			return nil, err
		}
	case js[0] == '{':
		var wrapped struct {
			Users *[]User `json:"users"`
		}
		if err := decodeStrict(js, &wrapped); err != nil {
			return nil, err
		}
		if wrapped.Users == nil {
			return nil, ErrNoUsersList
		}
		list = *wrapped.Users
	default:
		return nil, fmt.Errorf("expected a list of users (or a map with a \"users\" list)")
	}
	return normalize(list)
}

func decodeStrict(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("unexpected content: %w", err)
	}
	return nil
}

func normalize(list []User) (map[string][]string, error) {
	out := make(map[string][]string, len(list))
	for i, u := range list {
		switch {
		case u.Name == "":
			return nil, fmt.Errorf("user #%d has no name", i+1)
		case u.Name == reservedUser:
			return nil, fmt.Errorf("user %q is reserved to the etcd administrator and cannot be managed by a users file", u.Name)
		}
		if _, dup := out[u.Name]; dup {
			return nil, fmt.Errorf("user %q is listed twice", u.Name)
		}
		roles := slices.Clone(u.Roles)
		if u.Role != "" {
			roles = append(roles, u.Role)
		}
		for _, r := range roles {
			if r == "" {
				return nil, fmt.Errorf("user %q has an empty role", u.Name)
			}
		}
		slices.Sort(roles)
		out[u.Name] = slices.Compact(roles)
	}
	return out, nil
}
