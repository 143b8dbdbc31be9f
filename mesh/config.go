package mesh

import (
	"fmt"
	"time"

	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/store"
)

// Flag names.
const (
	FlagConfigDir        = "clustermesh-config"
	FlagClusterName      = "cluster-name"
	FlagDrainGracePeriod = "clustermesh-drain-grace-period"
	FlagPollInterval     = "clustermesh-config-poll-interval"
	FlagLeaderElection   = "kvstoremesh-leader-election"
	FlagDrainOrphans     = "kvstoremesh-drain-orphans"
)

// Config is the cell's flags.
type Config struct {
	// ClustermeshConfig is the directory holding one etcd client config
	// file per remote cluster, named after the cluster.
	ClustermeshConfig string
	// ClusterName is the local cluster's name; a config file of that name
	// is ignored.
	ClusterName string
	// ClustermeshDrainGracePeriod is how long a removed cluster's synced
	// markers and data stay after its cluster config was deleted, so that
	// agents see the cluster go before its data does.
	ClustermeshDrainGracePeriod time.Duration
	// ClustermeshConfigPollInterval is how often the directory is read.
	ClustermeshConfigPollInterval time.Duration
	// KVStoremeshLeaderElection makes replicas elect one leader through a
	// lock on the local kvstore; without it every replica mirrors.
	KVStoremeshLeaderElection bool
	// KVStoremeshDrainOrphans makes a new leader drain the clusters whose
	// config is in the local kvstore without a file in the directory
	// (removed while no replica led). Turn it off only when several meshes
	// share one local kvstore (tests), as each would drain the others'.
	KVStoremeshDrainOrphans bool
}

// DefaultConfig are the flags' defaults.
var DefaultConfig = Config{
	ClusterName:                   "default",
	ClustermeshDrainGracePeriod:   30 * time.Second,
	ClustermeshConfigPollInterval: 2 * time.Second,
	KVStoremeshLeaderElection:     true,
	KVStoremeshDrainOrphans:       true,
}

// Flags implements cell.Flagger.
func (def Config) Flags(fs *pflag.FlagSet) {
	fs.String(FlagConfigDir, def.ClustermeshConfig, "Directory with one etcd config file per remote cluster, named after the cluster (a Kubernetes secret mount)")
	fs.String(FlagClusterName, def.ClusterName, "Name of the local cluster")
	fs.Duration(FlagDrainGracePeriod, def.ClustermeshDrainGracePeriod, "How long a removed cluster's synced markers and data stay after its cluster config is deleted")
	fs.Duration(FlagPollInterval, def.ClustermeshConfigPollInterval, "How often the cluster config directory is read for added, changed and removed clusters")
	fs.Bool(FlagLeaderElection, def.KVStoremeshLeaderElection, "Elect one leader among replicas through a lock on the local kvstore; the others stand by")
	fs.Bool(FlagDrainOrphans, def.KVStoremeshDrainOrphans, "On becoming leader, drain the clusters whose config is in the local kvstore but whose file is gone (removed while no replica led)")
}

// Validate names the flag at fault.
func (c Config) Validate() error {
	if c.ClustermeshConfig == "" {
		return fmt.Errorf("%w: name the directory of the remote clusters' config files", ErrNoConfigDir)
	}
	if err := validateClusterName(c.ClusterName); err != nil {
		return fmt.Errorf("--%s: %w", FlagClusterName, err)
	}
	if c.ClustermeshDrainGracePeriod < 0 {
		return fmt.Errorf("--%s=%s must not be negative", FlagDrainGracePeriod, c.ClustermeshDrainGracePeriod)
	}
	if c.ClustermeshConfigPollInterval <= 0 {
		return fmt.Errorf("--%s=%s must be positive, e.g. 2s", FlagPollInterval, c.ClustermeshConfigPollInterval)
	}
	return nil
}

// Options are the mesh's settings that are not flags: for tests, the scale
// harness and embedding programs. The zero value means the defaults.
type Options struct {
	// Log receives the mesh's logs (default logrus' standard logger).
	Log logrus.FieldLogger
	// Factory creates the mirrors' stores (default store.NewFactory());
	// pass the graph's to record the store metrics with source_cluster.
	Factory store.Factory
	// Metrics records the mesh's own metrics (nil: none).
	Metrics *Metrics
	// RemoteOptions are added to every remote client's --kvstore-opt map
	// (etcd.config is set per cluster), e.g. etcd.qps.
	RemoteOptions map[string]string
	// RemoteExtra is the base of every remote client's ExtraOptions
	// (ClusterName and Logger are set per cluster).
	RemoteExtra *kvstore.ExtraOptions
	// Resources overrides what is mirrored of each cluster (default
	// store.DefaultMirrorResources).
	Resources func(cluster string) []store.MirrorResource
	// RetryMin and RetryMax bound the backoff of a failing cluster
	// (defaults 1s and 1m) and of drain and election retries.
	RetryMin, RetryMax time.Duration
	// StatusInterval is how often the leader publishes its status under
	// StatusKey (default 5s; negative: never).
	StatusInterval time.Duration
	// Health receives the mesh's health in its scope "kvstoremesh" (nil:
	// none; Cell sets the graph's): leader or standby, and each remote
	// cluster's (see docs/health.md).
	Health cell.Health
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = logrus.StandardLogger()
	}
	if o.Factory == nil {
		o.Factory = store.NewFactory()
	}
	if o.Resources == nil {
		o.Resources = store.DefaultMirrorResources
	}
	if o.RetryMin <= 0 {
		o.RetryMin = time.Second
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(time.Minute, o.RetryMin)
	}
	if o.StatusInterval == 0 {
		o.StatusInterval = 5 * time.Second
	}
	return o
}
