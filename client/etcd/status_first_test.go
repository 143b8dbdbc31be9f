package etcd_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
)

// The status a program sees as soon as the connection is up is the full
// line (endpoints, versions, leader, quorum), not a bare "connected to".
func TestStatusRightAfterConnect(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	c := newEtcdClient(t, []string{srv.Endpoint()}, &kvstore.ExtraOptions{DialOption: hivetest.FastReconnectDialOptions()})
	st := c.Status()
	require.Equal(t, kvstore.StateOK, st.State, st.Msg)
	require.Regexp(t, `^etcd: 1/1 connected, leases=\d+, lock leases=\d+, has-quorum=true: `, st.Msg)
	require.Regexp(t, endpointVersionRe, st.Msg)
	require.Regexp(t, leaderRe, st.Msg)
}

// An endpoint that does not answer is listed as failing in the first line
// (Warning), and does not keep the client from connecting.
func TestStatusRightAfterConnectDeadEndpoint(t *testing.T) {
	t.Parallel()
	srv := hivetest.SharedServer(t)
	dead := "http://" + freeAddr(t)
	c := newEtcdClient(t, []string{srv.Endpoint(), dead}, &kvstore.ExtraOptions{DialOption: hivetest.FastReconnectDialOptions()})
	st := c.Status()
	require.Equal(t, kvstore.StateWarning, st.State, st.Msg)
	require.Regexp(t, `^etcd: 1/2 connected, leases=\d+, lock leases=\d+, has-quorum=true: `, st.Msg)
	require.Contains(t, st.Msg, dead+" - ")
	require.Regexp(t, leaderRe, st.Msg)
}
