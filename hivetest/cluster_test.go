package hivetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	require.Len(t, c.Endpoints(), 3)
	cli := c.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), "k", "v1")
	require.NoError(t, err)

	leader, err := c.Leader(shortCtx(t, 10*time.Second))
	require.NoError(t, err)
	require.NoError(t, c.StopMember(leader))
	require.False(t, c.Members[leader].Running())

	var newLeader int
	require.Eventually(t, func() bool {
		newLeader, err = c.Leader(shortCtx(t, time.Second))
		return err == nil && newLeader != leader
	}, 10*time.Second, 50*time.Millisecond)

	require.Eventually(t, func() bool {
		_, err := cli.Put(shortCtx(t, time.Second), "k", "v2")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)

	// Killing the new leader too leaves no quorum: writes must fail.
	require.NoError(t, c.KillMember(newLeader))
	_, err = cli.Put(shortCtx(t, 500*time.Millisecond), "k", "v3")
	require.Error(t, err)

	require.NoError(t, c.RestartMember(shortCtx(t, 30*time.Second), leader))
	require.NoError(t, c.RestartMember(shortCtx(t, 30*time.Second), newLeader))
	require.Eventually(t, func() bool {
		resp, err := cli.Get(shortCtx(t, time.Second), "k")
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "v2"
	}, 10*time.Second, 50*time.Millisecond)
	for i := range c.Members {
		resp, err := cli.Status(shortCtx(t, 5*time.Second), c.Members[i].Endpoint())
		require.NoError(t, err, "member %d", i)
		require.NotZero(t, resp.Leader)
	}
}

func TestClusterTLSAuth(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3, WithTLS(GenerateCerts(t)), WithAuth("pw"))
	for _, ep := range c.Endpoints() {
		require.Regexp(t, `^https://`, ep)
	}
	_, err := c.Client(t).Put(shortCtx(t, 5*time.Second), "k", "v")
	require.NoError(t, err)
	// Each member's own client reads the write, with the same root login.
	resp, err := c.Members[2].Client(t).Get(shortCtx(t, 5*time.Second), "k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	_, err = c.Leader(shortCtx(t, 10*time.Second))
	require.NoError(t, err)
}
