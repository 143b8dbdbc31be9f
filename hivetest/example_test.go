package hivetest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// NewServer starts an embedded etcd for code that has no testing.TB, such as
// a demo or a TestMain; tests use StartServer or SharedServer instead, which
// stop the server when the test ends.
func ExampleNewServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := hivetest.NewServer(ctx, "") // temporary data dir, removed by Close
	if err != nil {
		fmt.Println("start:", err)
		return
	}
	defer srv.Close()

	kv, errCh := client.NewClient(ctx, kvstore.EtcdBackendName,
		map[string]string{kvstore.EtcdAddrOption: srv.Endpoint()}, nil)
	defer kv.Close()
	if err := <-errCh; err != nil {
		fmt.Println("connect:", err)
		return
	}
	if err := kv.Update(ctx, "example/greeting", []byte("hello"), false); err != nil {
		fmt.Println("update:", err)
		return
	}
	v, err := kv.Get(ctx, "example/greeting")
	fmt.Printf("%s %v\n", v, err)
	// Output: hello <nil>
}
