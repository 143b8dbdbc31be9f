package users_test

import (
	"errors"
	"fmt"

	"github.com/hivekv/kvstore/users"
)

// ParseFile accepts both the plain list and Cilium's clustermesh form; roles
// come back sorted and de-duplicated.
func ExampleParseFile() {
	desired, err := users.ParseFile([]byte(`
users:
- name: remote
  role: remote
- name: local-cluster1
  roles: [local, heartbeat-reader, local]
`))
	fmt.Println(desired["remote"], desired["local-cluster1"], err)

	// A file with no list is refused: it is what a reader sees in the
	// middle of an in-place rewrite.
	_, err = users.ParseFile([]byte("# nothing yet\n"))
	fmt.Println(errors.Is(err, users.ErrNoUsersList))
	// Output:
	// [remote] [heartbeat-reader local] <nil>
	// true
}
