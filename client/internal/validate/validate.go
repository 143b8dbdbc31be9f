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

// Key rejects an empty key (on etcd it would address the whole key space)
// with kvstore.ErrEmptyKey itself, and a key that alone makes a request
// larger than the server's default request limit, with an error wrapping
// kvstore.ErrValueTooLarge. Callers add the operation.
func Key(key string) error {
	if key == "" {
		return kvstore.ErrEmptyKey
	}
	return keySize(len(key), "key")
}

// Prefix rejects a prefix that alone makes a request larger than the
// server's default request limit, before it is sent: the server would refuse
// it with a raw gRPC error that says nothing of the key. A request carries a
// prefix twice (the key and the range end), so it is counted twice. The
// error wraps kvstore.ErrValueTooLarge. The empty prefix is valid: it means
// every key.
func Prefix(prefix string) error {
	return keySize(rangeSize(prefix), "prefix (sent twice: key and range end)")
}

func keySize(n int, what string) error {
	if n+RequestOverhead > DefaultMaxRequestBytes {
		return fmt.Errorf("%w: a %s of %d bytes exceeds the server's request limit of %d bytes "+
			"(etcd --max-request-bytes, 1.5 MiB by default): use shorter keys",
			kvstore.ErrValueTooLarge, what, n, DefaultMaxRequestBytes-RequestOverhead)
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

// lockKeyCopies is how often the enqueue request of a lock carries the lock
// key (path, "/" and a 16-digit lease id): compare, put, and two reads.
const lockKeyCopies = 4

// LockPath rejects an empty lock path with kvstore.ErrEmptyKey, and a path so
// long that the request that queues its lock key would exceed the server's
// default request limit, with an error wrapping kvstore.ErrValueTooLarge.
// Both backends apply it, so a path that locks in unit tests locks on etcd.
func LockPath(path string) error {
	if path == "" {
		return kvstore.ErrEmptyKey
	}
	if n := lockKeyCopies*(len(path)+17) + RequestOverhead; n > DefaultMaxRequestBytes {
		return fmt.Errorf("%w: a lock path of %d bytes makes a lock request over the server's request limit of %d bytes "+
			"(the request carries the lock key %d times): use a shorter path",
			kvstore.ErrValueTooLarge, len(path), DefaultMaxRequestBytes-RequestOverhead, lockKeyCopies)
	}
	return nil
}
