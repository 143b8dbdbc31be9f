package etcd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

// statusOnly is a client with just enough state for evaluate and
// heartbeatError: no connection, no endpoints.
func statusOnly(extra *kvstore.ExtraOptions) *etcdClient {
	log := logrus.New()
	c := &etcdClient{extra: extra, log: log}
	c.leases = newLeaseManager(context.Background(), nil, time.Minute, 1, log, nil)
	c.lockLeases = newLeaseManager(context.Background(), nil, time.Minute, 1, log, nil)
	c.initStatus()
	return c
}

func TestStatusEvaluateConsecutiveQuorumErrors(t *testing.T) {
	c := statusOnly(&kvstore.ExtraOptions{MaxConsecutiveQuorumErrors: 2})
	eps := []endpointResult{{text: "http://a:2379 - 3.7.3 (Leader)", ok: true}}
	lockErr := errors.New("unable to acquire lock: boom")

	for i := 1; i <= 2; i++ {
		st, err := c.evaluate(lockErr, nil, eps)
		require.NoError(t, err, "failure %d of at most 2 is no failing status", i)
		require.Equal(t, kvstore.StateWarning, st.State)
		require.Contains(t, st.Msg, "has-quorum=unable to acquire lock: boom, consecutive-errors=")
	}
	st, err := c.evaluate(lockErr, nil, eps)
	require.ErrorIs(t, err, lockErr)
	require.EqualError(t, err, "quorum check failed 3 times in a row: unable to acquire lock: boom")
	require.Equal(t, kvstore.StateFailure, st.State)
	require.Equal(t, "quorum check failed 3 times in a row: unable to acquire lock: boom; "+
		"etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=unable to acquire lock: boom, consecutive-errors=3: "+
		"http://a:2379 - 3.7.3 (Leader)", st.Msg)

	// One success resets the count.
	st, err = c.evaluate(nil, nil, eps)
	require.NoError(t, err)
	require.Equal(t, kvstore.Status{State: kvstore.StateOK,
		Msg: "etcd: 1/1 connected, leases=0, lock leases=0, has-quorum=true: http://a:2379 - 3.7.3 (Leader)"}, st)
	st, _ = c.evaluate(lockErr, nil, eps)
	require.Equal(t, kvstore.StateWarning, st.State)
}

func TestStatusEvaluateEndpoints(t *testing.T) {
	c := statusOnly(nil)
	st, err := c.evaluate(nil, nil, []endpointResult{
		{text: "http://a:2379 - 3.7.3", ok: true},
		{text: "http://b:2379 - context deadline exceeded"},
	})
	require.NoError(t, err)
	require.Equal(t, kvstore.StateWarning, st.State, "one endpoint down is a warning")
	require.Equal(t, "etcd: 1/2 connected, leases=0, lock leases=0, has-quorum=true: "+
		"http://a:2379 - 3.7.3; http://b:2379 - context deadline exceeded", st.Msg)

	st, err = c.evaluate(nil, nil, []endpointResult{{text: "http://a:2379 - refused"}, {text: "http://b:2379 - refused"}})
	require.EqualError(t, err, "not able to connect to any etcd endpoints")
	require.Equal(t, kvstore.StateFailure, st.State)
}

func TestStatusHeartbeatError(t *testing.T) {
	c := statusOnly(&kvstore.ExtraOptions{HeartbeatInterval: time.Second})
	now := time.Now()
	require.NoError(t, c.heartbeatError(now), "never seen is no failure")

	c.status.sawHeartbeat(now.Add(-1500 * time.Millisecond))
	require.NoError(t, c.heartbeatError(now), "one missed beat is tolerated")

	c.status.sawHeartbeat(now.Add(-2500 * time.Millisecond))
	require.EqualError(t, c.heartbeatError(now), "2.5s since last heartbeat update has been received (written every 1s)")

	st, err := c.evaluate(nil, c.heartbeatError(now), []endpointResult{{text: "http://a:2379 - 3.7.3", ok: true}})
	require.Error(t, err)
	require.Equal(t, kvstore.StateFailure, st.State)
}

func TestConnectDescribeErrors(t *testing.T) {
	for msg, want := range map[string]string{
		"tls: failed to verify certificate: x509: certificate signed by unknown authority": "check trusted-ca-file",
		"x509: certificate is valid for 10.0.0.1, not 127.0.0.1":                           "does not match the endpoint's host name",
		"remote error: tls: certificate required":                                          "requires a client certificate: check cert-file/key-file",
		"remote error: tls: unknown certificate authority":                                 "refused the client certificate: check cert-file/key-file",
		"remote error: tls: expired certificate":                                           "refused the client certificate: check cert-file/key-file",
		"tls: first record does not look like a TLS handshake":                             "use https:// for a TLS server and http:// otherwise",
		"dial tcp 127.0.0.1:1: connect: connection refused":                                "check that etcd runs at this address and port",
		"dial tcp: lookup etcd.invalid: no such host":                                      "the host name does not resolve",
		"dial tcp 10.0.0.1:2379: i/o timeout":                                              "check the address and the network path",
		"context deadline exceeded":                                                        "",
	} {
		got := describeConnError(errors.New(msg))
		if want == "" {
			require.Empty(t, got, msg)
			continue
		}
		require.Contains(t, got, want, msg)
	}
	require.Empty(t, describeConnError(nil))
}
