package mesh

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the state of a mesh replica.
type Status struct {
	// LocalCluster is --cluster-name.
	LocalCluster string `json:"localCluster"`
	// Leader says this replica holds the leader lock and mirrors.
	Leader bool `json:"leader"`
	// Elections counts the times this replica became leader: more than
	// one means it lost its lock session (or stepped down) and took the
	// lock again, restarting every mirror.
	Elections int `json:"elections"`
	// Error is why the config directory cannot be read (the clusters read
	// before are kept).
	Error string `json:"error,omitempty"`
	// Clusters are sorted by name. A standby replica has none.
	Clusters []ClusterStatus `json:"clusters"`
}

// ClusterStatus is the state of one remote cluster.
type ClusterStatus struct {
	Name string `json:"name"`
	// Connected: the remote kvstore is connected and its status checks
	// pass.
	Connected bool `json:"connected"`
	// Synced: every resource completed its initial copy (its synced
	// marker is written in the local kvstore).
	Synced bool `json:"synced"`
	// Keys is how many remote keys the mirror holds.
	Keys uint64 `json:"keys"`
	// Draining: the cluster was removed and its copy is being deleted.
	Draining bool `json:"draining,omitempty"`
	// Failures counts failed attempts to connect and mirror.
	Failures int `json:"failures,omitempty"`
	// LastError names the cluster and why it failed last: a failed
	// connection or mirror (cleared when a new connection starts
	// mirroring), or a failed status check of the remote client (kept
	// until then; Connected says whether the cluster is healthy now).
	LastError string `json:"lastError,omitempty"`
	// Since is when the current configuration (or the drain) began.
	Since time.Time `json:"since"`

	err error // LastError's error, for the health's classification
}

func (s *Status) sort() {
	slices.SortFunc(s.Clusters, func(a, b ClusterStatus) int { return strings.Compare(a.Name, b.Name) })
}

// Ready reports that every configured cluster is connected and synced.
func (s Status) Ready() bool {
	for _, c := range s.Clusters {
		if !c.Draining && !(c.Connected && c.Synced) {
			return false
		}
	}
	return true
}

// WriteTable prints s as a table: a header line, then one line per cluster
// "NAME CONNECTED SYNCED KEYS STATE ERROR".
func (s Status) WriteTable(w io.Writer) error {
	role := "standby"
	if s.Leader {
		role = "leader"
	}
	fmt.Fprintf(w, "# kvstoremesh of cluster %s: %s, %d remote clusters\n", s.LocalCluster, role, len(s.Clusters))
	if s.Error != "" {
		fmt.Fprintf(w, "# error: %s\n", s.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLUSTER\tCONNECTED\tSYNCED\tKEYS\tSTATE\tERROR")
	for _, c := range s.Clusters {
		state := "mirroring"
		switch {
		case c.Draining:
			state = "draining"
		case !c.Connected:
			state = "connecting"
		case !c.Synced:
			state = "syncing"
		}
		fmt.Fprintf(tw, "%s\t%t\t%t\t%d\t%s\t%s\n", c.Name, c.Connected, c.Synced, c.Keys, state, c.LastError)
	}
	return tw.Flush()
}
