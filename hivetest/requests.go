package hivetest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"

	"github.com/hivekv/kvstore"
)

// RequestKind names a class of etcd requests a RequestCounter tells apart.
type RequestKind string

// The kinds a RequestCounter counts. Lock traffic is every KV request on a
// key under kvstore.InitLockPath (the quorum check's locks) or under a prefix
// given to RequestCounter.LockPrefix; it is not counted as put, list or delete
// too.
const (
	KindLeaseGrant     RequestKind = "lease-grant"      // grants of any TTL but the lock lease's
	KindLockLeaseGrant RequestKind = "lock-lease-grant" // grants with kvstore.DefaultLockLeaseTTL
	KindLeaseKeepAlive RequestKind = "lease-keepalive"  // one per keep-alive request message
	KindLeaseOther     RequestKind = "lease-other"      // revoke, time-to-live, leases
	KindStatus         RequestKind = "status"           // Maintenance.Status: endpoint probes
	KindLock           RequestKind = "lock"             // KV requests on lock keys
	KindPut            RequestKind = "put"              // Put, and Txn not on lock keys
	KindDelete         RequestKind = "delete"           // DeleteRange not on lock keys
	KindList           RequestKind = "list"             // Range not on lock keys: a read or a list's first page
	KindListPage       RequestKind = "list-page"        // Range at a given revision: a list's later page
	KindWatch          RequestKind = "watch"            // one per watch created (not per stream)
	KindOther          RequestKind = "other"            // anything else (auth, cluster, ...)
	KindStreams        RequestKind = "streams-opened"   // gRPC streams opened (watch, keep-alive)
	KindWatchCancel    RequestKind = "watch-cancel"     // watches cancelled by the client
	KindCompact        RequestKind = "compact"          // KV.Compact
	KindLeaseKAStreams RequestKind = "keepalive-stream" // LeaseKeepAlive streams opened
)

// Failed is the kind counting the requests of kind k that failed (a unary
// request that returned an error: a timeout, no leader, a lease not found).
// A client retries most of them: for puts, it is the retry count.
func Failed(k RequestKind) RequestKind { return k + "-failed" }

// RequestCounter counts the requests etcd clients send, by kind, at the
// gRPC level: below every layer of ours, so nothing a client does escapes
// it. Install it with DialOptions (for a hivekv client: ExtraOptions
// .DialOption; for clientv3: Config.DialOptions). Safe for concurrent use;
// the zero value is not usable, use NewRequestCounter.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[RequestKind]int
	locks  []string
}

// NewRequestCounter returns a counter with no request counted.
func NewRequestCounter() *RequestCounter {
	return &RequestCounter{counts: map[RequestKind]int{}, locks: []string{kvstore.InitLockPath}}
}

// LockPrefix makes KV requests on keys under prefix count as lock traffic.
func (r *RequestCounter) LockPrefix(prefix string) {
	r.mu.Lock()
	r.locks = append(r.locks, prefix)
	r.mu.Unlock()
}

// DialOptions returns the gRPC dial options that install the counter.
func (r *RequestCounter) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(r.unary),
		grpc.WithChainStreamInterceptor(r.stream),
	}
}

// Counts returns a copy of the counts so far (kinds never seen are absent).
func (r *RequestCounter) Counts() map[RequestKind]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[RequestKind]int, len(r.counts))
	for k, n := range r.counts {
		out[k] = n
	}
	return out
}

// Reset sets every count to zero and returns the counts before.
func (r *RequestCounter) Reset() map[RequestKind]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.counts
	r.counts = map[RequestKind]int{}
	return out
}

// Requests is the total of the request kinds (streams opened and failures
// excluded: a stream carries requests that are counted themselves, a failed
// request is counted under its kind too).
func Requests(counts map[RequestKind]int) int {
	n := 0
	for k, c := range counts {
		if k != KindStreams && k != KindLeaseKAStreams && !strings.HasSuffix(string(k), "-failed") {
			n += c
		}
	}
	return n
}

// FormatCounts prints counts as "kind=n ..." in a stable order.
func FormatCounts(counts map[RequestKind]int) string {
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, counts[RequestKind(k)]))
	}
	return strings.Join(parts, " ")
}

func (r *RequestCounter) add(k RequestKind, n int) {
	r.mu.Lock()
	r.counts[k] += n
	r.mu.Unlock()
}

func (r *RequestCounter) isLock(key []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.locks {
		if strings.HasPrefix(string(key), p) {
			return true
		}
	}
	return false
}

// kvKind classifies a KV request: lock traffic by its key, the rest by its
// method.
func (r *RequestCounter) kvKind(req any, plain RequestKind) RequestKind {
	var key []byte
	switch q := req.(type) {
	case *pb.RangeRequest:
		key = q.Key
	case *pb.PutRequest:
		key = q.Key
	case *pb.DeleteRangeRequest:
		key = q.Key
	case *pb.TxnRequest:
		key = firstTxnKey(q)
	}
	if key != nil && r.isLock(key) {
		return KindLock
	}
	return plain
}

func firstTxnKey(q *pb.TxnRequest) []byte {
	for _, c := range q.Compare {
		return c.Key
	}
	for _, ops := range [][]*pb.RequestOp{q.Success, q.Failure} {
		for _, op := range ops {
			switch o := op.Request.(type) {
			case *pb.RequestOp_RequestPut:
				return o.RequestPut.Key
			case *pb.RequestOp_RequestDeleteRange:
				return o.RequestDeleteRange.Key
			case *pb.RequestOp_RequestRange:
				return o.RequestRange.Key
			}
		}
	}
	return nil
}

func (r *RequestCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	kind := r.unaryKind(method, req)
	r.add(kind, 1)
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		r.add(Failed(kind), 1)
	}
	return err
}

func (r *RequestCounter) unaryKind(method string, req any) RequestKind {
	switch method {
	case "/etcdserverpb.KV/Range":
		if q, ok := req.(*pb.RangeRequest); ok && q.Revision != 0 {
			return r.kvKind(req, KindListPage)
		}
		return r.kvKind(req, KindList)
	case "/etcdserverpb.KV/Put", "/etcdserverpb.KV/Txn":
		return r.kvKind(req, KindPut)
	case "/etcdserverpb.KV/DeleteRange":
		return r.kvKind(req, KindDelete)
	case "/etcdserverpb.KV/Compact":
		return KindCompact
	case "/etcdserverpb.Lease/LeaseGrant":
		if q, ok := req.(*pb.LeaseGrantRequest); ok && q.TTL == int64(kvstore.DefaultLockLeaseTTL/time.Second) {
			return KindLockLeaseGrant
		}
		return KindLeaseGrant
	case "/etcdserverpb.Lease/LeaseRevoke", "/etcdserverpb.Lease/LeaseTimeToLive", "/etcdserverpb.Lease/LeaseLeases":
		return KindLeaseOther
	case "/etcdserverpb.Maintenance/Status":
		return KindStatus
	}
	return KindOther
}

func (r *RequestCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return cs, err
	}
	r.add(KindStreams, 1)
	if method == "/etcdserverpb.Lease/LeaseKeepAlive" {
		r.add(KindLeaseKAStreams, 1)
	}
	return &countedStream{ClientStream: cs, r: r}, nil
}

// countedStream counts the request messages sent on a stream.
type countedStream struct {
	grpc.ClientStream
	r *RequestCounter
}

func (s *countedStream) SendMsg(m any) error {
	switch q := m.(type) {
	case *pb.LeaseKeepAliveRequest:
		s.r.add(KindLeaseKeepAlive, 1)
	case *pb.WatchRequest:
		switch q.RequestUnion.(type) {
		case *pb.WatchRequest_CreateRequest:
			s.r.add(KindWatch, 1)
		case *pb.WatchRequest_CancelRequest:
			s.r.add(KindWatchCancel, 1)
		}
	default:
		s.r.add(KindOther, 1)
	}
	return s.ClientStream.SendMsg(m)
}
