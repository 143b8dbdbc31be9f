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

func (e *Error) Error() string { return fmt.Sprintf("kvstore: %s %s: %v", e.Op, QuoteKey(e.Key), e.Err) }

// MaxQuotedKey is how much of a key an error message quotes: keys may be
// megabytes long, and one error line must stay readable.
const MaxQuotedKey = 100

// QuoteKey quotes key for an error message, cut to its first MaxQuotedKey
// bytes with the full length said.
func QuoteKey(key string) string {
	if len(key) <= MaxQuotedKey {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q... (%d bytes)", key[:MaxQuotedKey], len(key))
}

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
