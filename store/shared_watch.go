package store

import (
	"context"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
)

// The SharedStore's background work: the watch (events, delayed deletions,
// re-creation of deleted local keys) and the periodic sync of local keys.

// watch applies the events of the prefix and delivers the delayed
// deletions until the watcher stops.
func (s *SharedStore) watch(w *kvstore.Watcher, prefix string, listDone chan struct{}) {
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			s.handle(ev, prefix, listDone)
		case <-s.dueSignal:
			s.deliverDue()
		}
	}
}

// handle applies one event.
func (s *SharedStore) handle(ev kvstore.KeyValueEvent, prefix string, listDone chan struct{}) {
	name := strings.TrimPrefix(ev.Key, prefix)
	switch ev.Typ {
	case kvstore.EventTypeListDone:
		close(listDone)
	case kvstore.EventTypeCreate, kvstore.EventTypeModify:
		k := s.conf.KeyCreator()
		if err := k.Unmarshal(name, ev.Value); err != nil {
			s.log.WithError(err).WithField("key", ev.Key).Warn("Unable to unmarshal value: dropping it")
			return
		}
		s.mu.Lock()
		s.sharedKeys[name] = k
		// The key is back: a delayed OnDelete pending for it is outdated.
		delete(s.pendingDelete, name)
		s.mu.Unlock()
		if s.conf.Observer != nil {
			s.conf.Observer.OnUpdate(k)
		}
	case kvstore.EventTypeDelete:
		s.onDelete(name)
	}
}

func (s *SharedStore) onDelete(name string) {
	s.mu.Lock()
	_, isLocal := s.localKeys[name]
	shared, isShared := s.sharedKeys[name]
	delete(s.sharedKeys, name)
	delete(s.pendingDelete, name)
	var n uint64
	if !isLocal && isShared && s.conf.SharedKeyDeleteDelay > 0 {
		s.lastDelete++
		n = s.lastDelete
		s.pendingDelete[name] = n
	}
	s.mu.Unlock()
	switch {
	case isLocal:
		s.log.WithField("key", name).Warn("Received delete event for local key. Re-creating the key in the kvstore")
		s.recreate(name)
	case !isShared:
		s.log.WithField("key", name).Debug("Received delete event for unknown key")
	case s.conf.SharedKeyDeleteDelay <= 0:
		if s.conf.Observer != nil {
			s.conf.Observer.OnDelete(shared)
		}
	default:
		s.wg.Go(func() {
			t := time.NewTimer(s.conf.SharedKeyDeleteDelay)
			defer t.Stop()
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
			// The watch goroutine delivers it, so that it is ordered
			// with the key's other events.
			s.mu.Lock()
			s.due = append(s.due, dueDelete{name: name, n: n, key: shared})
			s.mu.Unlock()
			select {
			case s.dueSignal <- struct{}{}:
			default:
			}
		})
	}
}

// deliverDue calls OnDelete for the delayed deletions whose delay ran out,
// unless the key re-appeared (or was deleted again) meanwhile.
func (s *SharedStore) deliverDue() {
	s.mu.Lock()
	due := s.due
	s.due = nil
	deliver := due[:0]
	for _, d := range due {
		if s.pendingDelete[d.name] != d.n {
			if _, back := s.sharedKeys[d.name]; back {
				s.log.WithField("key", d.name).Warn("Received delete event for key which re-appeared within delay time window")
			}
			continue
		}
		delete(s.pendingDelete, d.name)
		deliver = append(deliver, d)
	}
	s.mu.Unlock()
	if s.conf.Observer == nil {
		return
	}
	for _, d := range deliver {
		s.conf.Observer.OnDelete(d.key)
	}
}

// recreate writes a local key deleted by someone else again, in the
// background so that the watch goroutine goes on. One re-creation per key
// runs at a time; a deletion meanwhile makes it write once more.
func (s *SharedStore) recreate(name string) {
	s.mu.Lock()
	if _, running := s.recreating[name]; running {
		s.recreating[name] = true
		s.mu.Unlock()
		return
	}
	s.recreating[name] = false
	s.mu.Unlock()
	s.wg.Go(func() {
		for {
			s.recreateOnce(name)
			s.mu.Lock()
			again := s.recreating[name]
			if !again || s.ctx.Err() != nil {
				delete(s.recreating, name)
				s.mu.Unlock()
				return
			}
			s.recreating[name] = false
			s.mu.Unlock()
		}
	})
}

// recreateOnce writes the local key name, if it is still local.
func (s *SharedStore) recreateOnce(name string) {
	ctx, cancel := context.WithTimeout(s.ctx, localKeyRecreateTimeout)
	defer cancel()
	l, err := s.locks.lock(ctx, name)
	if err != nil {
		return // Released, or another write of the key is stuck: the periodic sync retries.
	}
	defer s.locks.unlock(l)
	s.mu.Lock()
	local, ok := s.localKeys[name]
	s.mu.Unlock()
	if !ok {
		return
	}
	if err := s.conf.Backend.Update(ctx, s.keyPath(local), mustMarshal(s.log, local), true); err != nil && s.ctx.Err() == nil {
		s.log.WithError(err).WithField("key", name).Warn("Unable to re-create local key; the periodic sync retries")
	}
}

// mustMarshal marshals a local key that marshalled before; a failure now is
// logged and writes an empty value rather than nothing.
func mustMarshal(log logrus.FieldLogger, k Key) []byte {
	v, err := k.Marshal()
	if err != nil {
		log.WithError(err).WithField("key", k.GetKeyName()).Error("Unable to marshal local key")
	}
	return v
}

// syncLoop re-writes the local keys that differ from the store.
func (s *SharedStore) syncLoop() {
	t := time.NewTicker(s.conf.SynchronizationInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		names := make([]string, 0, len(s.localKeys))
		for name := range s.localKeys {
			names = append(names, name)
		}
		s.mu.Unlock()
		for _, name := range names {
			s.syncLocal(name)
		}
	}
}

// syncLocal re-writes the local key name if it differs from the store and
// is still local.
func (s *SharedStore) syncLocal(name string) {
	l, err := s.locks.lock(s.ctx, name)
	if err != nil {
		return
	}
	defer s.locks.unlock(l)
	s.mu.Lock()
	k, ok := s.localKeys[name]
	s.mu.Unlock()
	if !ok {
		return // Deleted since the loop listed it.
	}
	v, err := k.Marshal()
	if err != nil {
		return
	}
	if _, err := s.conf.Backend.UpdateIfDifferent(s.ctx, s.keyPath(k), v, true); err != nil && s.ctx.Err() == nil {
		s.log.WithError(err).WithField("key", name).Warn("Unable to synchronize local key")
	}
}
