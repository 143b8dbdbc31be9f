package etcd_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
)

// ackLog records the writes that returned success.
type ackLog struct {
	mu   sync.Mutex
	acks map[string]string
}

func (a *ackLog) add(k, v string) {
	a.mu.Lock()
	a.acks[k] = v
	a.mu.Unlock()
}

func (a *ackLog) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.acks)
}

// TestAcknowledgedWritesSurviveLeaderKills: writers keep writing through a
// 3-member cluster while its leader is killed and restarted twice. Every
// write that returned success must be readable afterwards, with its value;
// writes that failed (timeouts during the elections) may or may not have
// landed, and are not checked.
func TestAcknowledgedWritesSurviveLeaderKills(t *testing.T) {
	cluster := hivetest.StartCluster(t, 3)
	c := newEtcdClient(t, cluster.Endpoints(), fastStatusOptions())
	prefix := hivetest.UniquePrefix(t)
	acked := &ackLog{acks: map[string]string{}}

	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				k := fmt.Sprintf("%sw%d/%06d", prefix, w, n)
				v := strconv.Itoa(n)
				opCtx, cancel := context.WithTimeout(ctx, time.Second)
				err := c.Update(opCtx, k, []byte(v), n%2 == 0)
				cancel()
				if err == nil {
					acked.add(k, v)
				}
			}
		}()
	}
	progress := func(more int) {
		t.Helper()
		target := acked.len() + more
		require.Eventually(t, func() bool { return acked.len() >= target },
			30*time.Second, 10*time.Millisecond, "writes made no progress (%d acked)", acked.len())
	}

	progress(25)
	for range 2 {
		leader, err := cluster.Leader(t.Context())
		require.NoError(t, err)
		require.NoError(t, cluster.KillMember(leader))
		progress(25) // two members keep quorum
		require.NoError(t, cluster.RestartMember(t.Context(), leader))
		progress(25)
	}
	stop()
	wg.Wait()

	got, err := c.ListPrefix(t.Context(), prefix)
	require.NoError(t, err)
	acked.mu.Lock()
	defer acked.mu.Unlock()
	for k, v := range acked.acks {
		require.Contains(t, got, k, "an acknowledged write was lost")
		require.Equal(t, v, string(got[k].Data), "an acknowledged write reads back another value")
	}
	t.Logf("%d acknowledged writes, %d keys stored", len(acked.acks), len(got))
}
