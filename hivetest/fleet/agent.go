package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/store"
)

// Config describes a fleet. Zero fields take the defaults noted.
type Config struct {
	// Endpoints of the etcd cluster every agent connects to (required).
	Endpoints []string
	// Agents is the number of agents (default 20).
	Agents int
	// Prefix is where node keys live: Prefix/Cluster/agent-NNNNN
	// (default "cilium/state/nodes/v1").
	Prefix string
	// Cluster names the agents' cluster (default "c1").
	Cluster string
	// ValueSize pads every node value to this many bytes (default 1024).
	ValueSize int
	// QPS is every client's etcd.qps (default 20, Cilium's default).
	QPS int
	// Counter, when set, counts every agent's requests.
	Counter *hivetest.RequestCounter
	// Extra returns the base ExtraOptions of an agent's client; the kit
	// appends its dial options (the counter, fast reconnects). Default:
	// defaults with a logger that discards.
	Extra func() *kvstore.ExtraOptions
	// DialOptions are added to every agent's gRPC dial options.
	DialOptions []grpc.DialOption
	// StartConcurrency bounds how many agents start at once (default:
	// all at once, as a fleet rolled out together).
	StartConcurrency int
}

func (c *Config) defaults() error {
	if len(c.Endpoints) == 0 {
		return errors.New("fleet: Config.Endpoints is empty: give the etcd cluster's client URLs")
	}
	if c.Agents <= 0 {
		c.Agents = 20
	}
	if c.Prefix == "" {
		c.Prefix = "cilium/state/nodes/v1"
	}
	if c.Cluster == "" {
		c.Cluster = "c1"
	}
	if c.ValueSize <= 0 {
		c.ValueSize = 1024
	}
	if c.QPS <= 0 {
		c.QPS = 20
	}
	if c.StartConcurrency <= 0 {
		c.StartConcurrency = c.Agents
	}
	if c.Extra == nil {
		c.Extra = QuietExtraOptions
	}
	return nil
}

// QuietExtraOptions are the client defaults with a logger that discards:
// a fleet's clients would otherwise log every fault N times.
func QuietExtraOptions() *kvstore.ExtraOptions {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return &kvstore.ExtraOptions{Logger: l}
}

// Agent is one node: a client, a SyncStore publishing its node key and a
// WatchStore following every node of the fleet.
type Agent struct {
	Index  int
	Name   string // the node key's name in the store: Cluster/agent-NNNNN
	Client kvstore.BackendOperations
	Sync   store.SyncStore
	Watch  store.WatchStore

	fleet  *Fleet
	seen   []atomic.Uint32 // per agent index: the latest seq this agent saw
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startAgent connects agent i and starts its stores; it returns once the
// client is connected and the stores run (not yet synced: see Fleet.Start).
func (f *Fleet) startAgent(ctx context.Context, i int) (*Agent, error) {
	extra := f.cfg.Extra()
	extra.DialOption = append(extra.DialOption, hivetest.FastReconnectDialOptions()...)
	if f.cfg.Counter != nil {
		extra.DialOption = append(extra.DialOption, f.cfg.Counter.DialOptions()...)
	}
	extra.DialOption = append(extra.DialOption, f.cfg.DialOptions...)
	b, errc := client.NewClient(ctx, kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption: strings.Join(f.cfg.Endpoints, ","),
		"etcd.qps":             strconv.Itoa(f.cfg.QPS),
	}, extra)
	for err := range errc {
		if b != nil {
			b.Close()
		}
		return nil, fmt.Errorf("agent %d: connecting: %w", i, err)
	}
	if err := <-b.Connected(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("agent %d: waiting for quorum: %w", i, err)
	}
	a := &Agent{
		Index:  i,
		Name:   fmt.Sprintf("%s/agent-%05d", f.cfg.Cluster, i),
		Client: b,
		fleet:  f,
		seen:   make([]atomic.Uint32, f.cfg.Agents),
	}
	factory := store.NewFactory()
	opts := []store.WSSOpt{store.WSSWithLogger(extra.Logger)}
	a.Sync = factory.NewSyncStore(f.cfg.Cluster, b, f.cfg.Prefix, opts...)
	a.Watch = factory.NewWatchStore(f.cfg.Cluster, store.KVPairCreator, observer{a}, store.RWSWithLogger(extra.Logger))
	ctx, a.cancel = context.WithCancel(context.Background())
	a.wg.Go(func() { a.Sync.Run(ctx) })
	a.wg.Go(func() { a.Watch.Watch(ctx, b, f.cfg.Prefix) })
	if err := a.publish(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// publish upserts the agent's node key with its latest seq.
func (a *Agent) publish(ctx context.Context) error {
	seq := a.fleet.want[a.Index].Load()
	return a.Sync.UpsertKey(ctx, &store.KVPair{Key: a.Name, Value: a.fleet.value(a.Index, seq)})
}

// Close stops the agent's stores, then its client.
func (a *Agent) Close() {
	a.cancel()
	a.wg.Wait()
	a.Client.Close()
}

// missing counts the agents whose latest value this agent has not seen.
func (a *Agent) missing() int {
	n := 0
	for j := range a.seen {
		if a.seen[j].Load() != a.fleet.want[j].Load() {
			n++
		}
	}
	return n
}

type observer struct{ a *Agent }

func (o observer) OnUpdate(k store.Key) {
	kv, ok := k.(*store.KVPair)
	if !ok {
		return
	}
	j, seq, ok := parseNode(kv.Key, kv.Value)
	if !ok || j >= len(o.a.seen) {
		return
	}
	// Updates of a key arrive in order; keep the highest anyway, so that a
	// relist reporting an older view could not hide behind a newer one.
	for {
		old := o.a.seen[j].Load()
		if seq <= old || o.a.seen[j].CompareAndSwap(old, seq) {
			return
		}
	}
}

func (o observer) OnDelete(store.NamedKey) {}

// value is agent i's node value with update number seq: {"seq":N,...}
// padded to ValueSize, the shape of a Cilium node.
func (f *Fleet) value(i int, seq uint32) []byte {
	v := fmt.Sprintf(`{"seq":%010d,"name":"agent-%05d","ipv4":"10.0.%d.%d","pad":"`, seq, i, i/256, i%256)
	if pad := f.cfg.ValueSize - len(v) - 2; pad > 0 {
		v += strings.Repeat("x", pad)
	}
	return []byte(v + `"}`)
}

// parseNode reads the agent index from a key name ".../agent-NNNNN" and the
// seq from its value.
func parseNode(name string, value []byte) (int, uint32, bool) {
	k := strings.LastIndex(name, "agent-")
	if k < 0 || len(value) < 17 {
		return 0, 0, false
	}
	j, err := strconv.Atoi(name[k+len("agent-"):])
	if err != nil {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(string(value[7:17]), 10, 32)
	if err != nil {
		return 0, 0, false
	}
	return j, uint32(seq), true
}

// waitFor polls cond every interval until it holds or ctx ends.
func waitFor(ctx context.Context, interval time.Duration, cond func() bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
