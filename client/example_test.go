package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/hivetest"
)

// NewClient returns at once; the error channel tells when the client is
// connected. An embedded etcd stands in for a real cluster here.
func ExampleNewClient() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := hivetest.NewServer(ctx, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()

	c, errCh := client.NewClient(ctx, kvstore.EtcdBackendName, map[string]string{
		kvstore.EtcdAddrOption: srv.Endpoint(),
	}, &kvstore.ExtraOptions{Logger: quietLogger()})
	if err := <-errCh; err != nil {
		fmt.Println("connect:", err)
		return
	}
	defer c.Close()

	// A leased key vanishes when this client stops renewing its lease.
	if err := c.Update(ctx, "example/node", []byte("alive"), true); err != nil {
		fmt.Println(err)
		return
	}
	created, err := c.CreateOnly(ctx, "example/node", []byte("other"), false)
	fmt.Println("created again:", created, err)
	v, err := c.Get(ctx, "example/node")
	fmt.Printf("%s %v\n", v, err)

	_, err = c.Get(ctx, "")
	fmt.Println(errors.Is(err, kvstore.ErrEmptyKey))
	// Output:
	// created again: false <nil>
	// alive <nil>
	// true
}

// Writes guarded by a lock are single transactions: once the lock is lost
// they fail with ErrLockLeaseExpired and write nothing.
func ExampleNewClient_lockedWrites() {
	ctx := context.Background()
	c, errCh := client.NewClient(ctx, kvstore.InMemoryBackendName,
		map[string]string{kvstore.InMemoryStoreOption: "example-locks"}, nil)
	if err := <-errCh; err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	lock, err := c.LockPath(ctx, "example/locks/counter")
	if err != nil {
		fmt.Println(err)
		return
	}
	old, _ := c.GetIfLocked(ctx, "example/counter", lock)
	next := fmt.Sprintf("%d", len(old)+1)
	fmt.Println(c.UpdateIfLocked(ctx, "example/counter", []byte(next), false, lock))
	fmt.Println(lock.Unlock(ctx))

	// The lock key is gone: the fence no longer holds.
	err = c.UpdateIfLocked(ctx, "example/counter", []byte("late"), false, lock)
	fmt.Println(errors.Is(err, kvstore.ErrLockLeaseExpired))
	v, _ := c.Get(ctx, "example/counter")
	fmt.Printf("%s\n", v)
	// Output:
	// <nil>
	// <nil>
	// true
	// 1
}

// ListAndWatch reports every existing key, one ListDone, then the changes in
// order.
func ExampleNewClient_listAndWatch() {
	ctx := context.Background()
	c, errCh := client.NewClient(ctx, kvstore.InMemoryBackendName,
		map[string]string{kvstore.InMemoryStoreOption: "example-watch"}, nil)
	if err := <-errCh; err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	_ = c.Update(ctx, "example/nodes/a", []byte("1"), false)
	w := c.ListAndWatch(ctx, "example/nodes/", 16)
	defer w.Stop()

	next := func() {
		ev := <-w.Events
		fmt.Println(strings.TrimSpace(fmt.Sprint(ev.Typ, " ", ev.Key, " ", string(ev.Value))))
	}
	next() // create example/nodes/a 1
	next() // listDone
	_ = c.Update(ctx, "example/nodes/b", []byte("2"), false)
	_ = c.Update(ctx, "example/nodes/a", []byte("3"), false)
	_ = c.Delete(ctx, "example/nodes/b")
	next()
	next()
	next()
	// Output:
	// create example/nodes/a 1
	// listDone
	// create example/nodes/b 2
	// modify example/nodes/a 3
	// delete example/nodes/b
}

// quietLogger keeps the client's info logs out of the examples' output.
func quietLogger() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
