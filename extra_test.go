package kvstore_test

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestClusterSizeDependantInterval(t *testing.T) {
	base := 10 * time.Second
	tests := []struct {
		nodes int
		want  time.Duration
	}{
		{-1, base},
		{0, base},
		{1, time.Duration(float64(base) * math.Ln2)},
		{math.MaxInt32, time.Duration(float64(base) * math.Log1p(math.MaxInt32))},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.nodes), func(t *testing.T) {
			require.Equal(t, tt.want, kvstore.ClusterSizeDependantInterval(base, tt.nodes))
		})
	}

	// The interval never shrinks as the cluster grows.
	prev := time.Duration(0)
	for n := 1; n <= 1<<16; n *= 2 {
		got := kvstore.ClusterSizeDependantInterval(base, n)
		require.Greater(t, got, prev, "nodes=%d", n)
		prev = got
	}
}

func TestStatusCheckInterval(t *testing.T) {
	t.Run("nil receiver", func(t *testing.T) {
		var e *kvstore.ExtraOptions
		require.Equal(t, 30*time.Second, e.StatusCheckInterval(true))
		require.Equal(t, 5*time.Second, e.StatusCheckInterval(false))
	})

	t.Run("zero value", func(t *testing.T) {
		e := &kvstore.ExtraOptions{}
		require.Equal(t, 30*time.Second, e.StatusCheckInterval(true))
		require.Equal(t, 5*time.Second, e.StatusCheckInterval(false))
	})

	t.Run("custom stretch sees the base", func(t *testing.T) {
		var bases []time.Duration
		e := &kvstore.ExtraOptions{ClusterSizeDependantInterval: func(b time.Duration) time.Duration {
			bases = append(bases, b)
			return 2 * b
		}}
		require.Equal(t, time.Minute, e.StatusCheckInterval(true))
		require.Equal(t, 10*time.Second, e.StatusCheckInterval(false))
		require.Equal(t, []time.Duration{30 * time.Second, 5 * time.Second}, bases)
	})

	// The table documented by the seed (copied from Cilium's docs), with
	// ClusterSizeDependantInterval scaling by ln(1+nodes). The documented
	// values are rounded and partly approximate, so they are compared with
	// a tolerance of 3s (all endpoints reachable) and 1s (some failing).
	// Rows that deviate from the exact ln(1+n) value:
	//   - 4 nodes: documented 45s/7s, exact 30s·ln 5 = 48.3s and
	//     5s·ln 5 = 8.05s, beyond the tolerance: the row is checked against
	//     the exact values instead (exactOK/exactFailing);
	//   - 2048 nodes: documented 3m46s, exact 3m48.7s (within 3s);
	//   - 1 node: documented 20s/3s, exact 20.8s/3.5s (within).
	tests := []struct {
		nodes int
		// ok and failing are the documented values.
		ok, failing time.Duration
		// exactOK and exactFailing, when set, replace a documented value
		// that is off by more than the tolerance; they are checked to
		// 10ms.
		exactOK, exactFailing time.Duration
	}{
		{nodes: 1, ok: 20 * time.Second, failing: 3 * time.Second},
		{nodes: 4, ok: 45 * time.Second, failing: 7 * time.Second,
			exactOK: 48283 * time.Millisecond, exactFailing: 8047 * time.Millisecond},
		{nodes: 8, ok: time.Minute + 5*time.Second, failing: 11 * time.Second},
		{nodes: 32, ok: time.Minute + 45*time.Second, failing: 18 * time.Second},
		{nodes: 128, ok: 2*time.Minute + 25*time.Second, failing: 24 * time.Second},
		{nodes: 512, ok: 3*time.Minute + 7*time.Second, failing: 32 * time.Second},
		{nodes: 2048, ok: 3*time.Minute + 46*time.Second, failing: 38 * time.Second},
		{nodes: 8192, ok: 4*time.Minute + 30*time.Second, failing: 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.nodes)+" nodes", func(t *testing.T) {
			e := &kvstore.ExtraOptions{
				ClusterSizeDependantInterval: func(b time.Duration) time.Duration {
					return kvstore.ClusterSizeDependantInterval(b, tt.nodes)
				},
			}
			wantOK, tolOK := tt.ok, 3*time.Second
			if tt.exactOK != 0 {
				wantOK, tolOK = tt.exactOK, 10*time.Millisecond
			}
			wantFailing, tolFailing := tt.failing, time.Second
			if tt.exactFailing != 0 {
				wantFailing, tolFailing = tt.exactFailing, 10*time.Millisecond
			}
			gotOK, gotFailing := e.StatusCheckInterval(true), e.StatusCheckInterval(false)
			require.InDelta(t, wantOK, gotOK, float64(tolOK),
				"all connected: got %s, want %s±%s", gotOK, wantOK, tolOK)
			require.InDelta(t, wantFailing, gotFailing, float64(tolFailing),
				"not all connected: got %s, want %s±%s", gotFailing, wantFailing, tolFailing)
		})
	}
}

func TestEffectiveDefaults(t *testing.T) {
	set := &kvstore.ExtraOptions{
		LeaseTTL:                   time.Hour,
		LockLeaseTTL:               5 * time.Second,
		ConnectivityTimeout:        3 * time.Second,
		StatusCheckTimeout:         4 * time.Second,
		HeartbeatInterval:          6 * time.Second,
		MaxConsecutiveQuorumErrors: 9,
	}
	negative := &kvstore.ExtraOptions{
		LeaseTTL:            -1,
		LockLeaseTTL:        -1,
		ConnectivityTimeout: -1,
		StatusCheckTimeout:  -1,
		HeartbeatInterval:   -1,
	}
	tests := []struct {
		name string
		get  func(*kvstore.ExtraOptions) time.Duration
		def  time.Duration
		set  time.Duration
	}{
		{"LeaseTTL", (*kvstore.ExtraOptions).EffectiveLeaseTTL, kvstore.DefaultLeaseTTL, time.Hour},
		{"LockLeaseTTL", (*kvstore.ExtraOptions).EffectiveLockLeaseTTL, kvstore.DefaultLockLeaseTTL, 5 * time.Second},
		{"ConnectivityTimeout", (*kvstore.ExtraOptions).EffectiveConnectivityTimeout, kvstore.DefaultConnectivityTimeout, 3 * time.Second},
		{"StatusCheckTimeout", (*kvstore.ExtraOptions).EffectiveStatusCheckTimeout, kvstore.DefaultStatusCheckTimeout, 4 * time.Second},
		{"HeartbeatInterval", (*kvstore.ExtraOptions).EffectiveHeartbeatInterval, kvstore.HeartbeatWriteInterval, 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.def, tt.get(nil), "nil receiver")
			require.Equal(t, tt.def, tt.get(&kvstore.ExtraOptions{}), "zero value")
			require.Equal(t, tt.def, tt.get(negative), "negative")
			require.Equal(t, tt.set, tt.get(set), "set")
		})
	}

	t.Run("MaxConsecutiveQuorumErrors", func(t *testing.T) {
		require.Equal(t, uint(kvstore.DefaultMaxConsecutiveQuorumErrors), (*kvstore.ExtraOptions)(nil).EffectiveMaxConsecutiveQuorumErrors())
		require.Equal(t, uint(kvstore.DefaultMaxConsecutiveQuorumErrors), (&kvstore.ExtraOptions{}).EffectiveMaxConsecutiveQuorumErrors())
		require.Equal(t, uint(9), set.EffectiveMaxConsecutiveQuorumErrors())
	})

	// The reference timings the design pins.
	require.Equal(t, 15*time.Minute, kvstore.DefaultLeaseTTL)
	require.Equal(t, 25*time.Second, kvstore.DefaultLockLeaseTTL)
	require.Equal(t, 2*time.Minute, kvstore.DefaultConnectivityTimeout)
	require.Equal(t, 10*time.Second, kvstore.DefaultStatusCheckTimeout)
	require.LessOrEqual(t, kvstore.MinLeaseTTL, kvstore.DefaultLeaseTTL)
	require.GreaterOrEqual(t, kvstore.MaxLeaseTTL, kvstore.DefaultLeaseTTL)
}

func TestLog(t *testing.T) {
	t.Run("configured logger", func(t *testing.T) {
		logger, hook := logtest.NewNullLogger()
		e := &kvstore.ExtraOptions{Logger: logger}
		e.Log("kvstore-etcd").Info("hello")
		entry := hook.LastEntry()
		require.NotNil(t, entry)
		require.Equal(t, "hello", entry.Message)
		require.Equal(t, "kvstore-etcd", entry.Data["subsys"])
	})

	t.Run("nil receiver uses the standard logger", func(t *testing.T) {
		var e *kvstore.ExtraOptions
		entry, ok := e.Log("x").(*logrus.Entry)
		require.True(t, ok)
		require.Same(t, logrus.StandardLogger(), entry.Logger)
		require.Equal(t, "x", entry.Data["subsys"])
	})
}
