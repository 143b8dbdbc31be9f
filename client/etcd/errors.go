package etcd

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/internal/operr"
	"github.com/hivekv/kvstore/client/internal/validate"
)

// checkKey and checkWrite delegate to package validate, which the in-memory
// backend shares, so both backends refuse the same requests the same way.
func checkKey(key string) error { return validate.Key(key) }

// checkWrite rejects a write that the server would refuse for its size,
// naming the size and the limit.
func checkWrite(key string, value []byte, limit int) error { return validate.Write(key, value, limit) }

// wrapOp decorates err with the operation and key, translates the etcd
// errors callers act on into our sentinels, and marks timeouts with Hint.
func wrapOp(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, rpctypes.ErrRequestTooLarge) {
		err = fmt.Errorf("%w: the server refused the request: %v", kvstore.ErrValueTooLarge, err)
	}
	return operr.Wrap(op, key, err)
}

// errLeaseForgotten fires when a data lease's keepalive was restarted after
// the lease had been reported lost meanwhile (a write found it gone): the
// new keepalive is dropped, and nothing is reported twice.
var errLeaseForgotten = errors.New("lease was reported lost while its keepalive was being restarted")

// errWatchStalled fires when the liveness check (watch_liveness.go) finds a
// watch, or a watch creation, silent while its gRPC stream answers progress
// requests for other watches: the watch is re-created on a fresh stream.
var errWatchStalled = errors.New("watch stalled: the stream answers progress requests, this watch does not")
