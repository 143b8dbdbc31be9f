package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// testTimeout bounds every wait of a test, so that a bug fails the test
// instead of hanging the binary.
const testTimeout = 10 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newTestClient returns a client of s that is closed when the test ends.
func newTestClient(t testing.TB, s *Store, extra *kvstore.ExtraOptions) *client {
	t.Helper()
	c := s.NewClient(extra).(*client)
	t.Cleanup(c.Close)
	return c
}

// next receives the next event of w or fails the test.
func next(t testing.TB, w *kvstore.Watcher) kvstore.KeyValueEvent {
	t.Helper()
	select {
	case ev, ok := <-w.Events:
		require.True(t, ok, "Events closed early")
		return ev
	case <-time.After(testTimeout):
		t.Fatal("no event")
	}
	return kvstore.KeyValueEvent{}
}

// requireEvents requires the next events of w to be exactly want.
func requireEvents(t testing.TB, w *kvstore.Watcher, want ...kvstore.KeyValueEvent) {
	t.Helper()
	for i, ev := range want {
		require.Equal(t, ev, next(t, w), "event %d", i)
	}
}

// requireClosed requires Events to be closed without further events.
func requireClosed(t testing.TB, w *kvstore.Watcher) {
	t.Helper()
	select {
	case ev, ok := <-w.Events:
		require.False(t, ok, "unexpected event %+v", ev)
	case <-time.After(testTimeout):
		t.Fatal("Events not closed")
	}
}

func create(k, v string) kvstore.KeyValueEvent {
	return kvstore.KeyValueEvent{Typ: kvstore.EventTypeCreate, Key: k, Value: []byte(v)}
}

func modify(k, v string) kvstore.KeyValueEvent {
	return kvstore.KeyValueEvent{Typ: kvstore.EventTypeModify, Key: k, Value: []byte(v)}
}

func deleted(k string) kvstore.KeyValueEvent {
	return kvstore.KeyValueEvent{Typ: kvstore.EventTypeDelete, Key: k}
}

var listDone = kvstore.KeyValueEvent{Typ: kvstore.EventTypeListDone}
