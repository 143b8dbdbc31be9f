package meshscale

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
)

// explain says where a key that differs stands in each copy: the truth (what
// the writer last upserted), the remote etcd (did the writer's SyncStore
// write it?), the local etcd (did the mesh?) and an agent's view (did
// the watch deliver it?). Values are shown by their sequence number.
func (e *env) explain(ctx context.Context, key string, agent int) string {
	cluster := clusterOfCacheKey(key)
	var remoteKey string
	for _, r := range Resources(cluster) {
		base := path.Join(kvstore.StateToCachePrefix(r.Prefix), cluster) + "/"
		if strings.HasPrefix(key, base) {
			remoteKey = path.Join(r.Source, strings.TrimPrefix(key, base))
		}
	}
	idx := -1
	for i := range e.cfg.Clusters {
		if clusterName(i) == cluster {
			idx = i
		}
	}
	if remoteKey == "" || idx < 0 {
		return "(no remote key for " + key + ")"
	}
	get := func(cfg clientv3.Config, k string) string {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		cfg.Context = ctx
		c, err := clientv3.New(cfg)
		if err != nil {
			return "error: " + err.Error()
		}
		defer c.Close()
		resp, err := c.Get(ctx, k)
		switch {
		case err != nil:
			return "error: " + err.Error()
		case len(resp.Kvs) == 0:
			return "absent"
		}
		return seqOf(string(resp.Kvs[0].Value))
	}
	want := e.truth.expected()[key]
	view := "absent"
	if agent < len(e.agents) {
		if v, ok := e.agents[agent].snapshot()[key]; ok {
			view = seqOf(v)
		}
	}
	st := e.mesh.Status()
	synced, failures := 0, 0
	for _, c := range st.Clusters {
		if c.Synced {
			synced++
		}
		failures += c.Failures
	}
	return fmt.Sprintf("%s: truth %s, remote etcd %s, local etcd %s, agent %d %s; mesh leader=%t, %d/%d clusters synced, %d failures",
		key, seqOf(want), get(e.remotes[idx%len(e.remotes)].ClientConfig(), remoteKey), get(e.local.ClientConfig(), key), agent, view,
		st.Leader, synced, len(st.Clusters), failures)
}

// seqOf is the "<flag>|<seq>" of a value.
func seqOf(v string) string {
	if v == "" {
		return "absent"
	}
	parts := strings.SplitN(v, "|", 3)
	if len(parts) < 2 {
		return "?"
	}
	return "seq " + parts[1]
}
