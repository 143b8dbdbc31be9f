package memory_test

import (
	"context"
	"fmt"
	"sort"

	"github.com/hivekv/kvstore/client/memory"
)

// Clients of one named store see each other's writes, as two processes
// sharing an etcd would; a test that wants isolation uses NewStore instead.
func ExampleNew() {
	ctx := context.Background()
	writer := memory.New("example", nil)
	defer writer.Close()
	reader := memory.New("example", nil)
	defer reader.Close()

	_ = writer.Update(ctx, "cilium/state/nodes/n1", []byte("10.0.0.1"), false)
	_ = writer.Update(ctx, "cilium/state/nodes/n2", []byte("10.0.0.2"), true)
	nodes, err := reader.ListPrefix(ctx, "cilium/state/nodes/")
	if err != nil {
		fmt.Println(err)
		return
	}
	keys := make([]string, 0, len(nodes))
	for k := range nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s=%s leased=%v\n", k, nodes[k].Data, nodes[k].LeaseID != 0)
	}
	// Output:
	// cilium/state/nodes/n1=10.0.0.1 leased=false
	// cilium/state/nodes/n2=10.0.0.2 leased=true
}
