package promise_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hivekv/kvstore/promise"
)

func Example() {
	// The producer keeps the resolver; consumers only see the promise.
	resolver, addr := promise.New[string]()

	go func() {
		// ... connect, then hand over the result once.
		resolver.Resolve("http://127.0.0.1:2379")
	}()

	// Derive a promise without waiting for the first one.
	scheme := promise.Map(addr, func(a string) string { return a[:4] })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	a, err := addr.Await(ctx)
	if err != nil {
		fmt.Println("not connected:", err)
		return
	}
	s, _ := scheme.Await(ctx)
	fmt.Println(a, s)
	// Output: http://127.0.0.1:2379 http
}
