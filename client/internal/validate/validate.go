package validate

import (
	"fmt"

	"github.com/hivekv/kvstore"
)

// DefaultMaxRequestBytes is etcd's default --max-request-bytes (1.5 MiB). The
// in-memory backend enforces it too, so that a value that works in unit tests
// also fits through a default etcd server.
const DefaultMaxRequestBytes = 1536 * 1024

// RequestOverhead is what a Put request carries besides key and value
// (lease, flags, protobuf framing), with a margin.
const RequestOverhead = 512

// Key rejects an empty key: on etcd it would address the whole key space.
// The error is kvstore.ErrEmptyKey itself; callers add the operation.
func Key(key string) error {
	if key == "" {
		return kvstore.ErrEmptyKey
	}
	return nil
}

// Write rejects a write with an empty key, or one whose key and value would
// make a request larger than limit, the server's request size limit. The
// error wraps kvstore.ErrValueTooLarge and names the size and the limit;
// callers add the operation and the key.
func Write(key string, value []byte, limit int) error {
	if err := Key(key); err != nil {
		return err
	}
	if n := len(key) + len(value) + RequestOverhead; n > limit {
		return fmt.Errorf("%w: %d bytes of key and value exceed the server's request limit of %d bytes "+
			"(etcd --max-request-bytes, 1.5 MiB by default): store less per key or raise the limit",
			kvstore.ErrValueTooLarge, len(key)+len(value), limit-RequestOverhead)
	}
	return nil
}
