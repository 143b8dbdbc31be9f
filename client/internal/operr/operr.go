package operr

import (
	"fmt"

	"github.com/hivekv/kvstore"
)

// Error is the error of an operation on a key. It unwraps to the cause, so
// sentinel errors and backend errors still match with errors.Is.
type Error struct {
	Op, Key string
	Err     error
}

func (e *Error) Error() string { return fmt.Sprintf("kvstore: %s %q: %v", e.Op, e.Key, e.Err) }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Wrap decorates err with the operation and key and marks timeouts with
// kvstore.Hint. A nil err stays nil.
func Wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Key: key, Err: kvstore.Hint(err)}
}
