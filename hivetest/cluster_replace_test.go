package hivetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// A replaced member starts empty under a new ID, catches up from the others
// and serves what was written before, and the cluster can lose another
// member afterwards.
func TestReplaceMember(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3)
	cli := c.Client(t)
	_, err := cli.Put(shortCtx(t, 5*time.Second), "k", "before")
	require.NoError(t, err)
	leader, err := c.Leader(shortCtx(t, 10*time.Second))
	require.NoError(t, err)
	if leader != 1 { // replace the leader: index 1 in what follows
		c.Members[1], c.Members[leader] = c.Members[leader], c.Members[1]
	}
	oldID := c.Members[1].memberID
	oldDir := c.Members[1].dataDir

	require.NoError(t, c.ReplaceMember(shortCtx(t, 30*time.Second), 1))
	require.NotEqual(t, oldID, c.Members[1].memberID, "a new member, not the old one back")
	require.NotEqual(t, oldDir, c.Members[1].dataDir)
	require.NoDirExists(t, oldDir)

	members, err := cli.MemberList(shortCtx(t, 5*time.Second))
	require.NoError(t, err)
	require.Len(t, members.Members, 3)
	// A serializable read on the new member alone: it has caught up.
	one, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Members[1].Endpoint()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer func() { _ = one.Close() }()
	require.Eventually(t, func() bool {
		resp, err := one.Get(shortCtx(t, time.Second), "k", clientv3.WithSerializable())
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "before"
	}, 10*time.Second, 50*time.Millisecond)

	// The new member holds the data: with another member down, it and the
	// third still make a quorum.
	require.NoError(t, c.KillMember(0))
	require.Eventually(t, func() bool {
		resp, err := cli.Get(shortCtx(t, time.Second), "k")
		return err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "before"
	}, 20*time.Second, 50*time.Millisecond)
	require.NoError(t, c.RestartMember(shortCtx(t, 30*time.Second), 0))

	// And it restarts like any member.
	require.NoError(t, c.KillMember(1))
	require.NoError(t, c.RestartMember(shortCtx(t, 30*time.Second), 1))
}
