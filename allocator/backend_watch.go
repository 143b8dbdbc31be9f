package allocator

import (
	"context"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// watchChanSize is the buffer between the store's watcher and the cache.
const watchChanSize = 512

func (k *kvstoreBackend) ListAndWatch(ctx context.Context, handler CacheMutations) {
	w := k.b.ListAndWatch(ctx, k.keys.idPrefix, watchChanSize)
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				// The client was closed: no more events will come.
				return
			}
			k.handle(ev, handler)
		}
	}
}

func (k *kvstoreBackend) handle(ev kvstore.KeyValueEvent, handler CacheMutations) {
	if ev.Typ == kvstore.EventTypeListDone {
		handler.OnListDone()
		return
	}
	id, err := k.keys.idFromMaster(ev.Key)
	if err != nil {
		k.log.WithError(err).WithField("key", ev.Key).Warning("Cannot parse key suffix")
		return
	}
	switch ev.Typ {
	case kvstore.EventTypeCreate, kvstore.EventTypeModify:
		if len(ev.Value) == 0 {
			k.log.WithFields(logrus.Fields{"key": ev.Key, "id": id}).Error("Received a key with an empty value")
			return
		}
		handler.OnUpsert(id, string(ev.Value))
	case kvstore.EventTypeDelete:
		handler.OnDelete(id, string(ev.Value))
	}
}
