// Command meshscale runs the clustermesh scale scenario of package
// hivetest/meshscale and prints its table; it exits 1 when an agent's final
// view differs from the remote truth or a fault did not converge.
//
//	go run ./hivetest/meshscale/cmd/meshscale -clusters 50 -faults
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/hivekv/kvstore/hivetest/meshscale"
)

func main() {
	d := meshscale.DefaultConfig
	c := d
	flag.IntVar(&c.Clusters, "clusters", d.Clusters, "remote clusters")
	flag.IntVar(&c.Servers, "servers", d.Servers, "embedded etcd servers the remote clusters are spread over")
	flag.IntVar(&c.Agents, "agents", d.Agents, "agents following the local cache")
	flag.IntVar(&c.ClustersPerAgentClient, "clusters-per-agent-client", d.ClustersPerAgentClient, "remote clusters an agent reads through one local client")
	flag.IntVar(&c.Nodes, "nodes", d.Nodes, "nodes per cluster")
	flag.IntVar(&c.Identities, "identities", d.Identities, "identities per cluster")
	flag.IntVar(&c.Endpoints, "endpoints", d.Endpoints, "endpoints per cluster")
	flag.Float64Var(&c.NodeQPS, "node-qps", d.NodeQPS, "node churn per cluster")
	flag.Float64Var(&c.IdentityQPS, "identity-qps", d.IdentityQPS, "identity churn per cluster")
	flag.Float64Var(&c.EndpointQPS, "endpoint-qps", d.EndpointQPS, "endpoint churn per cluster")
	flag.DurationVar(&c.Churn, "churn", d.Churn, "how long churn runs after bootstrap")
	flag.IntVar(&c.LocalQPS, "local-qps", d.LocalQPS, "etcd.qps of the mesh's local client")
	flag.BoolVar(&c.Faults, "faults", true, "run the fault pass")
	flag.BoolVar(&c.NoBaseline, "no-baseline", false, "skip the raw clientv3 copy measured before the mesh starts")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	c.Progress = os.Stderr

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshscale:", err)
			os.Exit(2)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "meshscale:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	res, err := meshscale.Run(ctx, c)
	cancel()
	stop()
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if res != nil {
		_ = res.WriteTable(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshscale:", err)
		os.Exit(1)
	}
	if !res.OK() {
		fmt.Fprintln(os.Stderr, "meshscale: an agent's view differs from the remote truth")
		os.Exit(1)
	}
}
