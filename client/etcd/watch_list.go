package etcd

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// list lists the prefix until one attempt succeeds, backing off between
// attempts, and returns the revision the list reflects. Every key is emitted
// as it arrives (Create for keys new to the consumer, Modify for known ones);
// after a complete list, every known key the list did not return gets a
// Delete. It returns false once the watcher must exit.
//
// After a failed attempt some keys may have been emitted already; the next
// attempt reports them again as Modify (or Delete if they vanished), so the
// consumer's view still ends equal to the list revision's.
func (r *watchRun) list() (int64, bool) {
	r.keys.UsePrefix(r.prefix)
	for {
		r.keys.StartList()
		rev, err := r.listOnce()
		if err == nil {
			vanished := 0
			if !r.keys.Sweep(func(k string) bool {
				vanished++
				return r.emit(kvstore.EventTypeDelete, k, nil)
			}) {
				return 0, false
			}
			r.listRetry.Reset()
			r.succeeded()
			if r.listed {
				r.log.WithFields(logrus.Fields{"revision": rev, "keys": r.keys.Len(), "vanished": vanished}).
					Info("Watcher resynchronised after its watch broke")
			}
			return rev, true
		}
		if r.done() {
			return 0, false
		}
		if !r.retryAfter("list", err, &r.listRetry) {
			return 0, false
		}
	}
}

// listOnce reads the prefix in pages of etcd.limit. The first page is a
// linearizable read at the current revision; every later page is read at
// that same revision, so the pages form one snapshot: a write that lands
// between two pages shows up in the watch that follows, never half in the
// list and half lost. (Reading later pages at the newest revision loses
// updates to keys of earlier pages; Cilium had that bug until PR #34091.)
//
// Pages are emitted as they arrive and not kept. The next page is requested
// before the current one is emitted, so that its round trip overlaps with
// the consumer's work: the memory a list needs is two pages plus the key
// set, whatever the size of the prefix.
func (r *watchRun) listOnce() (int64, error) {
	opts := []clientv3.OpOption{
		clientv3.WithRange(r.rangeEnd),
		// Ascending key order is etcd's natural order; with it the
		// server can stop at the limit instead of sorting everything.
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend),
	}
	if limit := r.c.opts.listLimit; limit > 0 {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	start := r.prefix
	if start == "" {
		// The empty prefix is every key; etcd refuses an empty start
		// key, and reads "\x00" up to the range end "\x00" as all keys.
		start = allKeys
	}
	resp, err := r.getPage(start, pageOptions{opts: opts})
	if err != nil {
		return 0, err
	}
	rev := resp.Header.Revision
	// Count is the size of the whole range at rev, whatever the limit.
	r.keys.Reserve(int(resp.Count))
	// Later pages read at rev. The first, linearizable page proved the
	// cluster committed rev, so they can be serializable: no ReadIndex round
	// per page. A member that has not applied rev yet answers "future
	// revision"; the page is then asked for again linearizably.
	pinned := pageOptions{
		opts:     append(opts[:len(opts):len(opts)], clientv3.WithRev(rev), clientv3.WithSerializable()),
		fallback: append(opts[:len(opts):len(opts)], clientv3.WithRev(rev)),
	}
	for page := 0; ; page++ {
		if tracing.Load() {
			Trace("Received list page", nil, logrus.Fields{"prefix": r.prefix, "page": page,
				"revision": rev, "numEntries": len(resp.Kvs), "remainingEntries": resp.Count - int64(len(resp.Kvs))})
		}
		var next <-chan pageResult
		if resp.More && len(resp.Kvs) > 0 {
			// The smallest key after the last one of this page.
			next = r.prefetch(string(resp.Kvs[len(resp.Kvs)-1].Key)+"\x00", pinned)
		}
		if !r.emitPage(resp) {
			// Stop or ctx: the caller sees done() and exits; a prefetch
			// in flight ends with r.ctx.
			return 0, context.Canceled
		}
		if next == nil {
			return rev, nil
		}
		res := <-next
		if res.err != nil {
			return 0, res.err
		}
		resp = res.resp
	}
}

// emitPage emits the keys of one page: Create for keys new to the consumer,
// Modify for known ones.
func (r *watchRun) emitPage(resp *clientv3.GetResponse) bool {
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		typ := kvstore.EventTypeCreate
		if r.keys.See(k) {
			typ = kvstore.EventTypeModify
		}
		if !r.emit(typ, k, kv.Value) {
			return false
		}
	}
	return true
}

type pageResult struct {
	resp *clientv3.GetResponse
	err  error
}

// prefetch requests a page in the background. The goroutine is tracked by
// c.wg and always ends: its request is bound to r.ctx and the result channel
// has room for the result even if nobody reads it.
func (r *watchRun) prefetch(key string, opts pageOptions) <-chan pageResult {
	ch := make(chan pageResult, 1)
	started := r.c.spawn(func() {
		resp, err := r.getPage(key, opts)
		ch <- pageResult{resp, err}
	})
	if !started {
		ch <- pageResult{err: kvstore.ErrClientClosed}
	}
	return ch
}

// getPage is one rate-limited list request.
// pageOptions are the options of a list request, and those to retry it with
// when a serializable read finds the member behind the requested revision.
type pageOptions struct {
	opts, fallback []clientv3.OpOption
}

func (r *watchRun) getPage(key string, opts pageOptions) (*clientv3.GetResponse, error) {
	resp, err := do(r.ctx, r.c, request{kind: kindRead, action: "ListAndWatch", key: r.prefix, keyField: "prefix"},
		func(cli *clientv3.Client) (*clientv3.GetResponse, error) {
			resp, err := cli.Get(r.ctx, key, opts.opts...)
			if opts.fallback != nil && errors.Is(err, rpctypes.ErrFutureRev) {
				resp, err = cli.Get(r.ctx, key, opts.fallback...)
			}
			return resp, err
		})
	if err != nil {
		return nil, wrapOp("list", r.prefix, err)
	}
	return resp, nil
}
