package hivetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// One etcd start costs around a second under -race; packages with many small
// tests share one server instead and keep tests apart with UniquePrefix.
var shared struct {
	mu  sync.Mutex
	srv *Server // set by RunShared for the duration of m.Run

	lazyOnce sync.Once
	lazy     *Server
	lazyErr  error
}

// RunWithSharedServer is a complete TestMain: it starts a server, runs the
// tests, closes the server, removes its data and exits with the tests' code.
//
//	func TestMain(m *testing.M) { hivetest.RunWithSharedServer(m) }
func RunWithSharedServer(m *testing.M) {
	os.Exit(RunShared(m))
}

// RunShared is RunWithSharedServer without the os.Exit, for a TestMain that
// runs more checks (such as goleak) after the server is closed.
func RunShared(m *testing.M) int {
	dir, err := os.MkdirTemp("", "hivetest-shared-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hivetest: shared server: %v\n", err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }()
	srv, err := NewServer(context.Background(), filepath.Join(dir, "etcd"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "hivetest: shared server: %v\n", err)
		return 1
	}
	shared.mu.Lock()
	shared.srv = srv
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	shared.srv = nil
	shared.mu.Unlock()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "hivetest: closing shared server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// SharedServer returns the package's shared server. Without
// RunWithSharedServer in TestMain it starts one on first use that lives until
// the process exits (its temporary directory is left behind). Tests must not
// Stop or Close it; use StartServer for fault injection.
func SharedServer(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	srv := shared.srv
	shared.mu.Unlock()
	if srv != nil {
		return srv
	}
	shared.lazyOnce.Do(func() {
		shared.lazy, shared.lazyErr = NewServer(context.Background(), "")
	})
	if shared.lazyErr != nil {
		tb.Fatalf("hivetest: shared server: %v", shared.lazyErr)
	}
	return shared.lazy
}

// UniquePrefix returns "test/<test name>/<random>/", a key prefix no other
// test (or rerun with -count) uses, so tests can share one server.
func UniquePrefix(tb testing.TB) string {
	return "test/" + sanitize(tb.Name()) + "/" + randomHex(4) + "/"
}
