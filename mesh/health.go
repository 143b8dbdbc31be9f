package mesh

import (
	"errors"
	"fmt"

	"github.com/hivekv/kvstore/internal/modhealth"
)

// meshHealth reports a mesh into the "kvstoremesh" health scope (see
// internal/modhealth; nothing is reported without Options.Health): a
// "leader" part (leader, standby — both OK — or idle), a "config-dir" part
// while the config directory cannot be read, and a "cluster-<name>" part per
// remote cluster, also in a child scope of that name. report, standby and
// dirError are called from the goroutine of Run only (the leader's reconcile
// loop reports after each pass), so the maps need no lock; idle and stopped
// touch only modhealth, which is safe from any goroutine.
type meshHealth struct {
	module   *modhealth.Module
	leader   *modhealth.Part
	dir      *modhealth.Part // nil while the directory reads fine
	clusters map[string]*modhealth.Part
}

func newMeshHealth(opts Options) *meshHealth {
	m := modhealth.New(opts.Health, "kvstoremesh")
	return &meshHealth{module: m, leader: m.Part("leader"), clusters: map[string]*modhealth.Part{}}
}

// report updates the parts from the leader's status: a part per cluster in
// st, closed once the cluster is neither configured nor draining.
func (h *meshHealth) report(st Status) {
	h.leader.OK(fmt.Sprintf("leader, mirroring %d clusters", len(st.Clusters)))
	h.dirError(st.Error)
	seen := make(map[string]bool, len(st.Clusters))
	for _, c := range st.Clusters {
		seen[c.Name] = true
		p, ok := h.clusters[c.Name]
		if !ok {
			p = h.module.Sub("cluster-" + c.Name)
			h.clusters[c.Name] = p
		}
		clusterHealth(p, c)
	}
	for name, p := range h.clusters {
		if !seen[name] {
			h.drop(name, p, "removed, its copy drained")
		}
	}
}

// drop ends a cluster's part. Stopped first: a provider that keeps a closed
// scope (cell.SimpleHealth does) then shows its last state as Stopped, never
// as a stale Degraded.
func (h *meshHealth) drop(name string, p *modhealth.Part, reason string) {
	p.Stopped(reason)
	p.Close()
	delete(h.clusters, name)
}

// standby reports a replica waiting for the leader lock; it mirrors nothing,
// so its cluster parts go (the leader reports them). Waiting is the normal
// state of every replica but one: OK.
func (h *meshHealth) standby(lock string) {
	for name, p := range h.clusters {
		h.drop(name, p, "not mirrored here: this replica is a standby")
	}
	h.dirError("")
	h.leader.OK("standby, waiting for the leader lock " + lock)
}

// idle reports a mesh that cannot run at all (no local kvstore).
func (h *meshHealth) idle(err error) {
	h.leader.Degraded("idle: no local kvstore", err)
}

// stopped reports the end of Run.
func (h *meshHealth) stopped() { h.module.StopAll("kvstoremesh stopped") }

func (h *meshHealth) dirError(msg string) {
	switch {
	case msg != "" && h.dir == nil:
		h.dir = h.module.Part("config-dir")
		fallthrough
	case msg != "":
		h.dir.Degraded("config directory unreadable, keeping the clusters mirrored so far", errors.New(msg))
	case h.dir != nil:
		h.dir.Stopped("config directory read again")
		h.dir.Close()
		h.dir = nil
	}
}

// clusterHealth reports one cluster's status into its part.
func clusterHealth(p *modhealth.Part, c ClusterStatus) {
	err := c.err
	if err == nil && c.LastError != "" {
		err = errors.New(c.LastError)
	}
	switch {
	case c.Draining:
		p.Stopped("removed, draining its copy")
	case c.Connected && c.Synced:
		p.OK(fmt.Sprintf("synced, %d keys mirrored", c.Keys))
	case c.Connected:
		p.Degraded("connected, initial sync pending", nil)
	case errors.Is(err, ErrRemoteConfig), errors.Is(err, ErrInvalidClusterName):
		p.Degraded("config file unusable: fix it, the mesh retries once it changes", err)
	case err != nil:
		p.Degraded("not connected, retrying with backoff", err)
	default:
		p.Degraded("connecting", nil)
	}
}
