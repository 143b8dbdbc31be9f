package etcd

import (
	"context"
	"errors"
	"net"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/hivekv/kvstore"
)

// client connects with the real client configuration (built exactly as
// NewClient builds it, through the report's dialer) and reads
// kvstore.HeartbeatPath: the read needs a working transport, accepted
// credentials and read permission on the key.
func (r *dbgReport) client(ctx context.Context, cfgfile string, dialer EtcdDbgDialer) {
	const in = 1
	if r.reachable == 0 {
		r.fail(in, "Skipped connecting: no endpoint passed the checks above")
		return
	}
	o, err := parseEtcdOptions(map[string]string{kvstore.EtcdOptionConfig: cfgfile})
	if err != nil {
		r.fail(in, "Cannot build the client configuration: %v", err)
		return
	}
	cfg, err := buildClientConfig(o)
	if err != nil {
		r.fail(in, "Cannot build the client configuration: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dbgClientTimeout)
	defer cancel()
	cfg.Context = ctx
	cfg.DialTimeout = dbgClientTimeout
	cfg.DialOptions = append(cfg.DialOptions, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
		return dialer.DialContext(ctx, addr)
	}))
	cli, err := clientv3.New(cfg)
	if err != nil {
		r.fail(in, "Failed to establish connection: %v%s", err, hintSuffix(err))
		return
	}
	defer func() { _ = cli.Close() }()
	resp, err := cli.Get(ctx, kvstore.HeartbeatPath)
	if err != nil {
		r.fail(in, "Failed to read %s: %v%s", kvstore.HeartbeatPath, kvstore.Hint(err), hintSuffix(err))
		return
	}
	r.ok(in, "Authenticated read of %s succeeded", kvstore.HeartbeatPath)
	r.ok(in, "Etcd cluster ID: %x", resp.Header.GetClusterId())
	if len(resp.Kvs) == 0 {
		r.ok(in, "Heartbeat key not present (it is written only where the heartbeat cell runs)")
		return
	}
	r.ok(in, "Heartbeat last written at %s (writer's clock)", resp.Kvs[0].Value)
}

// hintSuffix names the likely fix of a client error, if known.
func hintSuffix(err error) string {
	switch {
	case isAuthError(err):
		return ": check username/password"
	case isPermissionError(err):
		return ": the user may not read this key: check its roles"
	}
	if h := describeConnError(err); h != "" {
		return ": " + h
	}
	return ""
}

func isPermissionError(err error) bool {
	return errors.Is(err, rpctypes.ErrPermissionDenied) || errors.Is(err, rpctypes.ErrGRPCPermissionDenied)
}
