package client

import (
	"context"
	"fmt"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client/etcd"
	"github.com/hivekv/kvstore/client/memory"
)

// NewClient creates a client of the named backend ("etcd" or "in-memory")
// configured by opts (the --kvstore-opt map) and extra (may be nil).
//
// It returns at once. The channel is closed without a value once the client
// is connected (for etcd: the first lock session is established), or receives
// one error and is then closed. When the configuration itself is invalid the
// client is nil and the channel holds the error that names the culprit.
// Otherwise the caller owns the client and must Close it, even after an
// error.
func NewClient(ctx context.Context, backend string, opts map[string]string, extra *kvstore.ExtraOptions) (kvstore.BackendOperations, chan error) {
	if err := kvstore.ValidateBackendOptions(backend, opts); err != nil {
		return nil, failed(err)
	}
	switch backend {
	case kvstore.EtcdBackendName:
		return etcd.New(ctx, opts, extra)
	case kvstore.InMemoryBackendName:
		c := memory.New(opts[kvstore.InMemoryStoreOption], extra)
		errCh := make(chan error)
		close(errCh)
		return c, errCh
	default:
		return nil, failed(fmt.Errorf("%w %q", kvstore.ErrUnknownBackend, backend))
	}
}

func failed(err error) chan error {
	ch := make(chan error, 1)
	ch <- err
	close(ch)
	return ch
}
