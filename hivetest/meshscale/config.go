package meshscale

import (
	"fmt"
	"io"
	"time"
)

// Config is the shape of a run. Zero fields take the defaults of
// DefaultConfig.
type Config struct {
	// Clusters is the number of remote clusters.
	Clusters int
	// Servers is the number of embedded etcd servers the remote clusters
	// are spread over.
	Servers int
	// Agents is the number of agents following the local cache.
	Agents int
	// ClustersPerAgentClient is how many remote clusters an agent reads
	// through one local client. A Cilium agent has one client per remote
	// cluster; sharing one client among all clusters puts thousands of
	// watches on one gRPC stream, which clientv3 resumes one by one after
	// an etcd restart (see docs/clustermesh.md).
	ClustersPerAgentClient int
	// Nodes, Identities and Endpoints are the keys each cluster publishes.
	Nodes, Identities, Endpoints int
	// NodeQPS, IdentityQPS and EndpointQPS are the per-cluster churn rates.
	NodeQPS, IdentityQPS, EndpointQPS float64
	// Churn is how long churn runs after bootstrap before the final check.
	Churn time.Duration
	// LocalQPS is the etcd.qps of the mesh's local client (Cilium's CI
	// runs KVStoreMesh with etcd.qps=1000).
	LocalQPS int
	// Faults runs the fault pass after the churn.
	Faults bool
	// DrainGracePeriod of the mesh (the fault pass waits for a drain).
	DrainGracePeriod time.Duration
	// ConvergeTimeout bounds every wait for agents to equal the truth.
	ConvergeTimeout time.Duration
	// NoBaseline skips the raw clientv3 copy measured before the mesh
	// starts, the floor the mesh's bootstrap is compared with.
	NoBaseline bool
	// Dir holds the etcd data and config files ("": a temporary directory,
	// removed afterwards).
	Dir string
	// Progress, when set, receives a line per phase.
	Progress io.Writer
}

// DefaultConfig is Cilium's CI shape at 50 clusters.
var DefaultConfig = Config{
	Clusters:               50,
	Servers:                3,
	Agents:                 2,
	ClustersPerAgentClient: 10,
	Nodes:                  100,
	Identities:             100,
	Endpoints:              1000,
	NodeQPS:                0.1,
	IdentityQPS:            0.2,
	EndpointQPS:            1,
	Churn:                  30 * time.Second,
	LocalQPS:               1000,
	DrainGracePeriod:       time.Second,
	ConvergeTimeout:        3 * time.Minute,
}

func (c Config) withDefaults() Config {
	d := DefaultConfig
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setf := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setd := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	set(&c.Clusters, d.Clusters)
	set(&c.Servers, d.Servers)
	set(&c.Agents, d.Agents)
	set(&c.ClustersPerAgentClient, d.ClustersPerAgentClient)
	set(&c.Nodes, d.Nodes)
	set(&c.Identities, d.Identities)
	set(&c.Endpoints, d.Endpoints)
	set(&c.LocalQPS, d.LocalQPS)
	setf(&c.NodeQPS, d.NodeQPS)
	setf(&c.IdentityQPS, d.IdentityQPS)
	setf(&c.EndpointQPS, d.EndpointQPS)
	setd(&c.Churn, d.Churn)
	setd(&c.DrainGracePeriod, d.DrainGracePeriod)
	setd(&c.ConvergeTimeout, d.ConvergeTimeout)
	c.Servers = min(c.Servers, c.Clusters)
	return c
}

func (c Config) validate() error {
	if c.Clusters < 1 || c.Servers < 1 || c.Agents < 1 || c.Clusters > 9999 {
		return fmt.Errorf("meshscale: clusters (1..9999), servers and agents must be positive: %+v", c)
	}
	if c.Nodes < 1 || c.Identities < 1 || c.Endpoints < 1 {
		return fmt.Errorf("meshscale: every resource needs at least one key per cluster: %+v", c)
	}
	return nil
}
