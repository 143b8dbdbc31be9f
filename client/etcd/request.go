package etcd

import (
	"context"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// request names one round trip to etcd for its metric and trace line. The
// zero request records neither: lock queue bookkeeping and cleanups are not
// operations a caller asked for.
type request struct {
	kind   string // kindRead, kindSet, kindDelete
	action string // metric "action" label and trace message
	key    string // the key (or prefix) the request is about; its scope labels the metric
	// keyField is the trace field that names key: "key" when empty,
	// "prefix" for prefixes, noKeyField when fields say it all.
	keyField string
	fields   logrus.Fields // further trace fields; nil while tracing is off
}

// noKeyField leaves key out of the trace line (user requests trace the user
// and role instead of their metric scope).
const noKeyField = "-"

// do is the one request path of the backend: it waits for the client and a
// rate-limit slot, runs send, gives the slot back however send ends, then
// records the duration metric and the trace line of r. send's result and
// error come back unchanged: the operation wraps the error with its name and
// key once, at its public boundary (wrapOp), because one operation may make
// several requests (a lease grant, a retry on a lost lease).
//
// send may turn a response into an error (a failed lock fence becomes
// ErrLockLeaseExpired) so that the metric and trace record the outcome the
// caller sees.
func do[T any](ctx context.Context, c *etcdClient, r request, send func(cli *clientv3.Client) (T, error)) (T, error) {
	cli, err := c.begin(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	start := c.metrics.now()
	v, err := sendReleasing(c, cli, send)
	if err == nil && (r.kind == kindSet || r.kind == kindDelete) {
		c.status.proveQuorum()
	}
	if r.action != "" {
		c.metrics.observe(r.kind, r.action, r.key, start, err)
		if tracing.Load() {
			traceRequest(r, err)
		}
	}
	return v, err
}

// sendReleasing runs send and releases the rate-limit slot even if send
// panics, so that a bug cannot starve the other requests of the client.
func sendReleasing[T any](c *etcdClient, cli *clientv3.Client, send func(cli *clientv3.Client) (T, error)) (T, error) {
	defer c.limiter.Release()
	return send(cli)
}

func traceRequest(r request, err error) {
	f := make(logrus.Fields, len(r.fields)+1)
	for k, v := range r.fields {
		f[k] = v
	}
	switch r.keyField {
	case "":
		f["key"] = r.key
	case noKeyField:
	default:
		f[r.keyField] = r.key
	}
	Trace(r.action, err, f)
}

// writeFields are the trace fields of a write; nil while tracing is off so
// that the fast path allocates nothing.
func writeFields(value []byte, lease bool) logrus.Fields {
	if !tracing.Load() {
		return nil
	}
	return logrus.Fields{"valueBytes": len(value), "lease": lease}
}

// toPairs converts the key-values of a range response.
func toPairs(kvs []*mvccpb.KeyValue) kvstore.KeyValuePairs {
	pairs := make(kvstore.KeyValuePairs, len(kvs))
	for _, kv := range kvs {
		pairs[string(kv.Key)] = kvstore.Value{Data: kv.Value, ModRevision: uint64(kv.ModRevision), LeaseID: kv.Lease}
	}
	return pairs
}
