package hivetest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
	"github.com/hivekv/kvstore/client"
	"github.com/hivekv/kvstore/client/memory"
	"github.com/hivekv/kvstore/hivetest"
)

func TestDummyEtcdIsFreshPerTest(t *testing.T) {
	testDummyIsFresh(t, kvstore.EtcdBackendName)
}

func TestDummyInMemoryIsFreshPerTest(t *testing.T) {
	testDummyIsFresh(t, kvstore.InMemoryBackendName)
}

func testDummyIsFresh(t *testing.T, backend string) {
	var first kvstore.BackendOperations
	t.Run("first", func(t *testing.T) {
		first = hivetest.SetupDummy(t, backend)
		require.Same(t, first, client.Client(), "SetupDummy installs the global client")
		select {
		case <-client.Connected():
		default:
			t.Fatal("SetupDummy returns once the client is connected")
		}
		require.NoError(t, first.Update(t.Context(), "dummy/k", []byte("v"), false))
	})
	_, err := first.Get(context.Background(), "dummy/k")
	require.ErrorIs(t, err, kvstore.ErrClientClosed, "the client is closed at the end of its test")

	t.Run("second", func(t *testing.T) {
		c := hivetest.SetupDummy(t, backend)
		require.NotSame(t, first, c)
		v, err := c.Get(t.Context(), "dummy/k")
		require.NoError(t, err)
		require.Nil(t, v, "the store was wiped at the end of the previous test")
	})
}

func TestDummyWithConfigOpts(t *testing.T) {
	c := hivetest.SetupDummyWithConfigOpts(t, kvstore.InMemoryBackendName,
		map[string]string{kvstore.InMemoryStoreOption: "dummy-opts"})
	require.NoError(t, c.Update(t.Context(), "k", []byte("v"), false))

	other := memory.New("dummy-opts", nil)
	defer other.Close()
	v, err := other.Get(t.Context(), "k")
	require.NoError(t, err)
	require.Equal(t, "v", string(v), "the store named in opts is used")
}

func TestDummyRefusesMisuse(t *testing.T) {
	msg := fatalMessage(t, func(tb testing.TB) { hivetest.SetupDummy(tb, "zookeeper") })
	require.Contains(t, msg, `unknown dummy kvstore backend "zookeeper"`)

	hivetest.SetupDummy(t, kvstore.InMemoryBackendName)
	msg = fatalMessage(t, func(tb testing.TB) { hivetest.SetupDummy(tb, kvstore.InMemoryBackendName) })
	require.Contains(t, msg, "must not run in parallel")
}

// fatalTB records Fatalf instead of failing the test.
type fatalTB struct {
	*testing.T
	msg string
}

type fatalCalled struct{}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatalCalled{})
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(fatalCalled{})
}

// fatalMessage runs fn and returns the message it failed with.
func fatalMessage(t *testing.T, fn func(testing.TB)) (msg string) {
	t.Helper()
	tb := &fatalTB{T: t}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatalCalled); !ok {
				panic(r)
			}
		}
		msg = tb.msg
		require.NotEmpty(t, msg, "fn must fail")
	}()
	fn(tb)
	return ""
}
