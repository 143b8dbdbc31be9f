package client

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/hivekv/kvstore"
)

// requestOverhead is what a Put request carries besides key and value
// (lease, flags, protobuf framing), with a margin.
const requestOverhead = 512

func checkKey(key string) error {
	if key == "" {
		return kvstore.ErrEmptyKey
	}
	return nil
}

// checkWrite rejects a write that the server would refuse for its size,
// naming the size and the limit.
func checkWrite(key string, value []byte, limit int) error {
	if key == "" {
		return kvstore.ErrEmptyKey
	}
	if n := len(key) + len(value) + requestOverhead; n > limit {
		return fmt.Errorf("%w: %d bytes of key and value exceed the server's request limit of %d bytes "+
			"(etcd --max-request-bytes, 1.5 MiB by default): store less per key or raise the limit",
			kvstore.ErrValueTooLarge, len(key)+len(value), limit-requestOverhead)
	}
	return nil
}

// opError is the error of an operation on a key: "kvstore: update "k": cause".
// It unwraps to the cause, so sentinel errors and etcd errors still match.
type opError struct {
	op, key string
	err     error
}

func (e *opError) Error() string { return fmt.Sprintf("kvstore: %s %q: %v", e.op, e.key, e.err) }
func (e *opError) Unwrap() error { return e.err }

// wrapOp decorates err with the operation and key, translates the etcd
// errors callers act on into our sentinels, and marks timeouts with Hint.
func wrapOp(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, rpctypes.ErrRequestTooLarge) {
		err = fmt.Errorf("%w: the server refused the request: %v", kvstore.ErrValueTooLarge, err)
	}
	return &opError{op: op, key: key, err: kvstore.Hint(err)}
}
