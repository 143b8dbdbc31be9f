package faults_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest/faults"
	"github.com/hivekv/kvstore/store"
)

// The store scenario: two SyncStore writers (own client, own cluster name,
// own key set under their own prefix) upsert and delete keys while a
// WatchStore reader of the common prefix follows them and the leader is
// killed. After heal both writers' Synced callbacks must have run, and
// the reader's view and the store must both equal what the writers last
// said of their keys. It lives in a test file so that the package's own
// code does not import the store.
func init() {
	faults.Register(faults.Scenario{
		Name: "store-leader-kill",
		Run:  runStore,
		Invariants: []faults.Invariant{
			{Name: "WatchStore observer calls follow the store event by event", Check: checkObserverCalls},
			{Name: "WatchStore converges to the writers' keys", Check: checkStore},
		},
	})
}

const (
	// storeWorkerBase is the recorder's worker id of writer 0's client.
	storeWorkerBase = 20
	storeWriters    = 2
	storeKeys       = 6
	// storeConverge bounds the wait, after heal, for the writers to write
	// what they hold and the reader to see it.
	storeConverge = 20 * time.Second
)

// storeRun is what a run leaves for the invariant.
type storeRun struct {
	writes int      // UpsertKey and DeleteKey calls
	keys   int      // keys expected at the end
	diff   []string // nil: converged
	err    error    // the store could not be read
	phases string
	view   *storeView
}

var storeRuns sync.Map // *faults.Run -> *storeRun

// storeView is the reader's Observer: the keys it was told about, and
// every call as the watch event it stands for (full key: the watched
// prefix, which WatchStore ends with "/", and the name).
type storeView struct {
	prefix string
	mu     sync.Mutex
	keys   map[string]string
	calls  []faults.WatchEvent
}

func (v *storeView) OnUpdate(k store.Key) {
	kv := k.(*store.KVPair)
	v.mu.Lock()
	typ := kvstore.EventTypeModify
	if _, known := v.keys[kv.Key]; !known {
		typ = kvstore.EventTypeCreate
	}
	v.calls = append(v.calls, faults.WatchEvent{Typ: typ, Key: v.prefix + kv.Key, Value: string(kv.Value)})
	v.keys[kv.Key] = string(kv.Value)
	v.mu.Unlock()
}

func (v *storeView) OnDelete(k store.NamedKey) {
	v.mu.Lock()
	v.calls = append(v.calls, faults.WatchEvent{Typ: kvstore.EventTypeDelete, Key: v.prefix + k.GetKeyName()})
	delete(v.keys, k.GetKeyName())
	v.mu.Unlock()
}

// checkObserverCalls checks the reader's observer calls, one by one,
// against the store's changes under the watched prefix, as
// faults.CheckWatch checks a ListAndWatch (no ListDone: WatchStore keeps
// it).
func checkObserverCalls(ctx context.Context, r *faults.Run) error {
	v, ok := storeRuns.Load(r)
	if !ok {
		return fmt.Errorf("no store run recorded for %s seed %d", r.Scenario, r.Seed)
	}
	view := v.(*storeRun).view
	view.mu.Lock()
	calls := slices.Clone(view.calls)
	view.mu.Unlock()
	return r.CheckEvents(ctx, view.prefix, calls, false)
}

func (v *storeView) snapshot() map[string]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return maps.Clone(v.keys)
}

func runStore(ctx context.Context, r *faults.Run) error {
	sr := &storeRun{}
	storeRuns.Store(r, sr)
	start := time.Now()
	prefix := r.Prefix + "store"
	factory := store.NewFactory(store.WithLogger(quietLogger()))

	var clients []kvstore.BackendOperations
	var bg sync.WaitGroup
	bctx, stopBG := context.WithCancel(ctx)
	defer func() {
		stopBG()
		bg.Wait()
		for _, c := range clients {
			c.Close()
		}
	}()
	for i := range storeWriters + 1 {
		c, err := r.Kit.NewClient(ctx, nil)
		if err != nil {
			return fmt.Errorf("store client: %w", err)
		}
		// Recorded: the writers' batches (transactions) and single
		// writes are checked by porcupine.
		clients = append(clients, r.Rec.WrapBackend(storeWorkerBase+i, c))
	}

	view := &storeView{prefix: prefix + "/", keys: map[string]string{}}
	sr.view = view
	reader := factory.NewWatchStore("reader", store.KVPairCreator, view)
	bg.Go(func() { reader.Watch(bctx, clients[storeWriters], prefix) })

	// expected[i] is what writer i last said of its keys (name relative
	// to the common prefix -> value); each writer has one goroutine, so
	// the order of its calls is the order it meant.
	expected := make([]map[string]string, storeWriters)
	synced := make([]chan struct{}, storeWriters)
	stores := make([]store.SyncStore, storeWriters)
	for i := range storeWriters {
		cluster := fmt.Sprintf("c%d", i+1)
		stores[i] = factory.NewSyncStore(cluster, clients[i], prefix+"/"+cluster)
		synced[i] = make(chan struct{})
		expected[i] = map[string]string{}
		bg.Go(func() { stores[i].Run(bctx) })
	}

	t0 := time.Now()
	wctx, stopWriters := context.WithCancel(ctx)
	var wg sync.WaitGroup
	writes := make([]int, storeWriters)
	errs := make([]error, storeWriters)
	for i := range storeWriters {
		wg.Go(func() {
			writes[i], errs[i] = storeWriter(wctx, r.Seed, i, stores[i], expected[i], synced[i])
		})
	}
	r.Wait(ctx, r.Between(200*time.Millisecond, 500*time.Millisecond))
	err := r.KillLeader(ctx)
	r.Wait(ctx, r.Between(300*time.Millisecond, 600*time.Millisecond))
	stopWriters()
	wg.Wait()
	if err != nil {
		return err
	}
	for i := range storeWriters {
		if errs[i] != nil {
			return errs[i]
		}
		sr.writes += writes[i]
	}
	want := map[string]string{}
	for _, e := range expected {
		maps.Copy(want, e)
	}
	sr.keys = len(want)
	t1 := time.Now()
	if err := r.Kit.Heal(ctx); err != nil {
		return err
	}
	t2 := time.Now()
	deadline := time.Now().Add(storeConverge)
	// lagging: what still differed at the last poll that found a
	// difference, and when (a figure: who is slow to converge).
	lagging := map[string]time.Duration{}
	for {
		sr.diff, sr.err = storeDiff(ctx, r, prefix, want, view, synced)
		for _, d := range sr.diff {
			lagging[strings.SplitN(d, ":", 2)[0]] = time.Since(t2).Round(time.Millisecond)
		}
		if (sr.err == nil && len(sr.diff) == 0) || time.Now().After(deadline) || !sleepCtx(ctx, 50*time.Millisecond) {
			break
		}
	}
	sr.phases = phases(start, t0, t1, t2, time.Now())
	if len(lagging) > 0 {
		sr.phases += fmt.Sprintf("; last difference after heal: %v", lagging)
	}
	return nil
}

// storeWriter upserts and deletes its keys until ctx ends, recording the
// latest state of each in expected, and calls Synced (closing synced from
// its callback) after a seeded number of operations, so that the initial
// synchronisation may straddle the fault.
func storeWriter(ctx context.Context, seed int64, i int, s store.SyncStore, expected map[string]string, synced chan struct{}) (int, error) {
	rnd := rand.New(rand.NewPCG(uint64(seed), uint64(2000+i)))
	cluster := fmt.Sprintf("c%d", i+1)
	syncAfter := 5 + rnd.IntN(100)
	n := 0
	for ; ctx.Err() == nil; n++ {
		k := rnd.IntN(storeKeys)
		name := fmt.Sprintf("k%d", k)
		if rnd.IntN(4) == 0 {
			if err := s.DeleteKey(ctx, store.NewKVPair(name, "")); err != nil {
				return n, fmt.Errorf("writer %s: DeleteKey %s: %w", cluster, name, err)
			}
			delete(expected, cluster+"/"+name)
		} else {
			value := fmt.Sprintf("%s-%s-v%d", cluster, name, n)
			if err := s.UpsertKey(ctx, store.NewKVPair(name, value)); err != nil {
				return n, fmt.Errorf("writer %s: UpsertKey %s: %w", cluster, name, err)
			}
			expected[cluster+"/"+name] = value
		}
		if n == syncAfter {
			if err := s.Synced(ctx, func(context.Context) { close(synced) }); err != nil {
				return n, fmt.Errorf("writer %s: Synced: %w", cluster, err)
			}
		}
		if !sleepCtx(ctx, time.Duration(2+rnd.IntN(8))*time.Millisecond) {
			break
		}
	}
	if n <= syncAfter { // stopped before calling it: call it now
		if err := s.Synced(context.WithoutCancel(ctx), func(context.Context) { close(synced) }); err != nil {
			return n, fmt.Errorf("writer %s: Synced: %w", cluster, err)
		}
	}
	return n, nil
}

// storeDiff lists how the writers' Synced callbacks, the reader's view and
// the store (read in one revision) differ from want.
func storeDiff(ctx context.Context, r *faults.Run, prefix string, want map[string]string, view *storeView, synced []chan struct{}) ([]string, error) {
	var diff []string
	for i, ch := range synced {
		select {
		case <-ch:
		default:
			diff = append(diff, fmt.Sprintf("Synced of writer c%d: callback has not run", i+1))
		}
	}
	diff = append(diff, mapDiff("reader's view", view.snapshot(), want)...)
	raw, err := r.Kit.Raw()
	if err != nil {
		return nil, err
	}
	gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := raw.Get(gctx, prefix+"/", clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	inStore := map[string]string{}
	for _, kv := range resp.Kvs {
		inStore[strings.TrimPrefix(string(kv.Key), prefix+"/")] = string(kv.Value)
	}
	return append(diff, mapDiff("store", inStore, want)...), nil
}

func mapDiff(what string, got, want map[string]string) []string {
	var diff []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if g, ok := got[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: %s missing, want %q", what, k, want[k]))
		} else if g != want[k] {
			diff = append(diff, fmt.Sprintf("%s: %s = %q, want %q", what, k, g, want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			diff = append(diff, fmt.Sprintf("%s: %s = %q, want it deleted", what, k, got[k]))
		}
	}
	return diff
}

func checkStore(_ context.Context, r *faults.Run) error {
	v, ok := storeRuns.LoadAndDelete(r)
	if !ok {
		return fmt.Errorf("no store run recorded for %s seed %d", r.Scenario, r.Seed)
	}
	sr := v.(*storeRun)
	logRun(r, "%d writes, %d keys expected at the end; %s", sr.writes, sr.keys, sr.phases)
	if sr.err != nil {
		return fmt.Errorf("store not readable after heal: %w", sr.err)
	}
	if len(sr.diff) > 0 {
		return fmt.Errorf("%w: %s after heal (%d writes):\n  %s", faults.ErrViolation,
			"not converged "+storeConverge.String(), sr.writes, strings.Join(sr.diff, "\n  "))
	}
	return nil
}
