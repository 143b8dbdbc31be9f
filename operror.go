package kvstore

import (
	"strconv"
	"strings"
)

// OpError is the error of an operation on a key, as os.PathError is for a
// file: Op names the operation ("get", "update-if-locked", …), Key the key or
// prefix, Err the cause. Both backends return it for key operations, so a
// caller can errors.As it to learn which key failed, and errors.Is still
// matches the sentinel or server error underneath.
//
// One exception: an *IfLocked operation whose lock is gone returns
// ErrLockLeaseExpired itself, unwrapped, as Cilium v1.16 does, so that code
// comparing it with == keeps working.
type OpError struct {
	Op  string
	Key string
	Err error
}

// maxQuotedKey bounds how much of a key an error message quotes: keys may be
// long (a user's encoding), and a message should still fit on a line.
const maxQuotedKey = 100

// Error reads `kvstore: <op> "<key>": <cause>`. The cause's own "kvstore: "
// prefix is dropped so that the message has one; a key longer than 100 bytes
// is cut there and marked with its full length.
func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("kvstore: ")
	b.WriteString(e.Op)
	b.WriteByte(' ')
	b.WriteString(QuoteKey(e.Key))
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "kvstore: "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// QuoteKey quotes key for a message, cutting it after 100 bytes (on a rune
// boundary) and then saying how long it was.
func QuoteKey(key string) string {
	if len(key) <= maxQuotedKey {
		return strconv.Quote(key)
	}
	cut := maxQuotedKey
	for cut > 0 && !utf8RuneStart(key[cut]) {
		cut--
	}
	return strconv.Quote(key[:cut]) + "… (" + strconv.Itoa(len(key)) + " bytes)"
}

// utf8RuneStart reports whether b can start a UTF-8 sequence.
func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
