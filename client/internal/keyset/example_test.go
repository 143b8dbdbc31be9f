package keyset_test

import (
	"fmt"

	"github.com/hivekv/kvstore/client/internal/keyset"
)

// A watcher's view through a resync: the list returns b and c, so a, which
// the consumer knew, is reported deleted.
func ExampleSet() {
	var s keyset.Set
	s.UsePrefix("nodes/")
	s.See("nodes/a")
	s.See("nodes/b")

	s.StartList()
	fmt.Println(s.See("nodes/b"), s.See("nodes/c")) // Modify, Create
	s.Sweep(func(key string) bool {
		fmt.Println("deleted", key)
		return true
	})
	fmt.Println(s.Len())
	// Output:
	// true false
	// deleted nodes/a
	// 2
}
