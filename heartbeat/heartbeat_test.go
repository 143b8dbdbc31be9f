package heartbeat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/heartbeat"
)

// recorder is a backend that only records heartbeat writes; every other
// method panics through the nil embedded interface, proving the writer uses
// nothing else.
type recorder struct {
	kvstore.BackendOperations

	mu       sync.Mutex
	writes   []write
	failNext int // this many writes fail
}

type write struct {
	key   string
	value string
	lease bool
	at    time.Time
}

func (r *recorder) Update(ctx context.Context, key string, value []byte, lease bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		return errors.New("injected failure")
	}
	r.writes = append(r.writes, write{key: key, value: string(value), lease: lease, at: time.Now()})
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func (r *recorder) all() []write {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]write(nil), r.writes...)
}

// The writer runs on synctest's fake clock: the counts are exact, and the
// quiet period after cancel is a fact, not a hope.
func TestHeartbeatWritesUntilCancelled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			heartbeat.Heartbeat(ctx, r, 10*time.Millisecond, nil)
		}()
		time.Sleep(25 * time.Millisecond)
		synctest.Wait()
		require.Equal(t, 3, r.count(), "at once, then at 10 and 20 ms")
		cancel()
		<-done
		for _, w := range r.all() {
			require.Equal(t, kvstore.HeartbeatPath, w.key)
			require.True(t, w.lease, "the heartbeat goes with the writer's lease")
			ts, err := time.Parse(time.RFC3339, w.value)
			require.NoError(t, err, "value %q", w.value)
			require.WithinDuration(t, w.at, ts, 2*time.Second)
		}
		time.Sleep(time.Second) // a hundred intervals on the fake clock
		synctest.Wait()
		require.Equal(t, 3, r.count(), "no write after Heartbeat returned")
	})
}

func TestHeartbeatLogsFailuresAndGoesOn(t *testing.T) {
	t.Parallel()
	log, hook := logtest.NewNullLogger()
	r := &recorder{failNext: 2}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		heartbeat.Heartbeat(ctx, r, 10*time.Millisecond, log)
	}()
	require.Eventually(t, func() bool { return r.count() >= 1 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	<-done

	var failures int
	for _, e := range hook.AllEntries() {
		if e.Message == "Unable to update heartbeat key" {
			failures++
			require.Equal(t, logrus.WarnLevel, e.Level)
			require.ErrorContains(t, e.Data[logrus.ErrorKey].(error), "injected failure")
		}
	}
	require.Equal(t, 2, failures)
	require.Equal(t, "Stopping to update heartbeat key", hook.LastEntry().Message)
}
