package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cilium/hive"
	"github.com/cilium/hive/cell"
	"github.com/sirupsen/logrus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/promise"
)

// demoTimeout bounds the whole demo once connected.
const demoTimeout = time.Minute

// demoOptions are the demo's own flags and setup.
type demoOptions struct {
	users    bool
	serve    bool             // keep running after the demo, until interrupted
	embedded *hivetest.Server // nil with an external etcd
}

type demoParams struct {
	cell.In

	Lifecycle  cell.Lifecycle
	Shutdowner hive.Shutdowner
	Log        logrus.FieldLogger
	KV         promise.Promise[kvstore.BackendOperations]
	Users      promise.Promise[kvstore.BackendOperationsUserMgmt]
	Health     *cell.SimpleHealth
}

// registerDemo runs the demo in the background once the hive started, and
// stops the hive when it is done: with nil on success, with the error
// otherwise (hive.Run returns it).
func registerDemo(p demoParams, opts *demoOptions, out io.Writer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.Lifecycle.Append(cell.Hook{
		OnStart: func(cell.HookContext) error {
			go func() {
				defer close(done)
				d := &demo{out: out, opts: opts, log: p.Log}
				if err := d.run(ctx, p); err != nil {
					p.Shutdowner.Shutdown(hive.ShutdownWithError(err))
					return
				}
				if opts.serve {
					d.printServing()
					return
				}
				p.Shutdowner.Shutdown()
			}()
			return nil
		},
		OnStop: func(ctx cell.HookContext) error {
			cancel()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
}

type demo struct {
	out  io.Writer
	opts *demoOptions
	log  logrus.FieldLogger
	kv   kvstore.BackendOperations
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d *demo) run(ctx context.Context, p demoParams) error {
	kv, err := p.KV.Await(ctx)
	if err != nil {
		return err // the client cell has already shut the hive down
	}
	d.kv = kv
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	d.printf("connected: %s\n", kv.Status())

	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"keys", d.keys},
		{"watch", d.watch},
		{"lock", d.lock},
		{"ids", d.ids},
		{"store", d.store},
	}
	if d.opts.users {
		um, err := p.Users.Await(ctx)
		if err != nil {
			return err
		}
		steps = append(steps, struct {
			name string
			fn   func(context.Context) error
		}{"users", func(ctx context.Context) error { return d.users(ctx, um) }})
	}
	defer func() {
		// Leave nothing behind on a real etcd.
		_ = kv.DeletePrefix(context.WithoutCancel(ctx), "demo/")
	}()
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	d.printHealth(ctx, p.Health)
	d.printf("status: %s\n", kv.Status())
	d.printf("done\n")
	return nil
}

// keys writes and reads keys with and without a lease.
func (d *demo) keys(ctx context.Context) error {
	writes := []struct {
		key, value string
		lease      bool
	}{
		{"demo/plain", "hello", false},
		{"demo/leased", "gone when the lease expires", true},
	}
	for _, w := range writes {
		if err := d.kv.Update(ctx, w.key, []byte(w.value), w.lease); err != nil {
			return err
		}
		d.printf("put    %s = %q (lease=%t)\n", w.key, w.value, w.lease)
	}
	v, err := d.kv.Get(ctx, "demo/plain")
	if err != nil {
		return err
	}
	d.printf("get    demo/plain -> %q\n", v)
	created, err := d.kv.CreateOnly(ctx, "demo/plain", []byte("other"), false)
	if err != nil {
		return err
	}
	d.printf("create demo/plain again -> created=%t (the key exists)\n", created)
	pairs, err := d.kv.ListPrefix(ctx, "demo/")
	if err != nil {
		return err
	}
	d.printf("list   demo/ -> %d keys\n", len(pairs))
	for _, k := range slices.Sorted(maps.Keys(pairs)) {
		lease := "none"
		if id := pairs[k].LeaseID; id != 0 {
			lease = fmt.Sprintf("%x", id)
		}
		d.printf("         %-12s %q lease=%s\n", k, pairs[k].Data, lease)
	}
	return nil
}

// watch lists and watches a prefix while changing it.
func (d *demo) watch(ctx context.Context) error {
	const prefix = "demo/watched/"
	if err := d.kv.Update(ctx, prefix+"a", []byte("1"), false); err != nil {
		return err
	}
	w := d.kv.ListAndWatch(ctx, prefix, 16)
	defer w.Stop()
	d.printf("watch  %s\n", prefix)
	changes := []func() error{
		func() error { return d.kv.Update(ctx, prefix+"b", []byte("2"), false) },
		func() error { return d.kv.Update(ctx, prefix+"a", []byte("3"), false) },
		func() error { return d.kv.Delete(ctx, prefix+"b") },
	}
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("the watcher stopped early")
			}
			switch ev.Typ {
			case kvstore.EventTypeListDone:
				d.printf("         %s\n", ev.Typ)
				// The initial list is done: make the changes.
				for _, change := range changes {
					if err := change(); err != nil {
						return err
					}
				}
			case kvstore.EventTypeDelete:
				d.printf("         %s %s\n", ev.Typ, ev.Key)
				return nil
			default:
				d.printf("         %s %s = %q\n", ev.Typ, ev.Key, ev.Value)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// lock takes a distributed lock and writes while holding it.
func (d *demo) lock(ctx context.Context) error {
	const path = "demo/lock"
	l, err := d.kv.LockPath(ctx, path)
	if err != nil {
		return err
	}
	pairs, err := d.kv.ListPrefix(ctx, path+"/")
	if err != nil {
		_ = l.Unlock(ctx)
		return err
	}
	d.printf("lock   %s held (lock key %s)\n", path, strings.Join(slices.Sorted(maps.Keys(pairs)), ", "))
	if err := d.kv.UpdateIfLocked(ctx, "demo/guarded", []byte("written under the lock"), false, l); err != nil {
		_ = l.Unlock(ctx)
		return err
	}
	d.printf("         demo/guarded written only because the lock is still held\n")
	if err := l.Unlock(ctx); err != nil {
		return err
	}
	d.printf("         unlocked\n")
	return nil
}

// users creates a user with a role and deletes it again. On the embedded
// etcd the demo creates the role first (roles are an operator's job, not
// the client's); on another etcd the user gets no role.
func (d *demo) users(ctx context.Context, um kvstore.BackendOperationsUserMgmt) error {
	const user, role = "demo-user", "demo-reader"
	var roles []string
	if srv := d.opts.embedded; srv != nil {
		if err := createRole(ctx, srv, role, "demo/"); err != nil {
			return err
		}
		roles = []string{role}
	}
	if err := um.UserEnforcePresence(ctx, user, roles); err != nil {
		return err
	}
	d.printf("users  %s present with roles %v\n", user, roles)
	if err := um.UserEnforceAbsence(ctx, user); err != nil {
		return err
	}
	d.printf("         %s deleted\n", user)
	return nil
}

// createRole creates a role allowed to read prefix, on the embedded server.
func createRole(ctx context.Context, srv *hivetest.Server, role, prefix string) error {
	cli, err := clientv3.New(srv.ClientConfig())
	if err != nil {
		return err
	}
	defer cli.Close()
	if _, err := cli.RoleAdd(ctx, role); err != nil {
		return fmt.Errorf("creating role %q: %w", role, err)
	}
	_, err = cli.RoleGrantPermission(ctx, role, prefix, clientv3.GetPrefixRangeEnd(prefix),
		clientv3.PermissionType(clientv3.PermRead))
	return err
}

// printServing tells how to reach the store that --demo-serve keeps running,
// for instance with kvstorectl.
func (d *demo) printServing() {
	if d.opts.embedded == nil {
		fmt.Fprintln(d.out, "serving until interrupted (Ctrl-C)")
		return
	}
	fmt.Fprintf(d.out, "serving until interrupted (Ctrl-C); try:\n  go run ./examples/kvstorectl --kvstore-opt etcd.address=%s dbg\n",
		d.opts.embedded.Endpoint())
}
