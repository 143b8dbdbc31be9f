package memory

import "github.com/hivekv/kvstore"

// New returns a client of the process-wide store named name ("" = "default").
func New(name string, extra *kvstore.ExtraOptions) kvstore.BackendOperations {
	panic("memory backend: not written yet")
}
