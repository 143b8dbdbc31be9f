package client

import (
	"context"

	"github.com/hivekv/kvstore"
)

// ListAndWatch implements kvstore.BackendOperations.
func (c *etcdClient) ListAndWatch(ctx context.Context, prefix string, chanSize int) *kvstore.Watcher {
	w := kvstore.NewWatcher(prefix, chanSize)
	c.log.WithField("prefix", prefix).Error("ListAndWatch is not implemented yet")
	w.Finish()
	return w
}
