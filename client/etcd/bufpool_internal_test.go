package etcd

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"
)

// A request between 32 KiB and 1 MiB (a list page, a store's batch) is
// encoded into a buffer near its size, not into a whole MiB as with gRPC's
// default pool, and decodes back to the same message.
func TestPooledCodecSizesBuffersToMessage(t *testing.T) {
	for _, n := range []int{10, 40 << 10, 75 << 10, 600 << 10} {
		req := &etcdserverpb.PutRequest{Key: []byte("k"), Value: bytes.Repeat([]byte("v"), n), Lease: 7}
		data, err := pooledCodec{}.Marshal(req)
		require.NoError(t, err)
		size := data.Len()
		require.Equal(t, proto.Size(req), size)
		for _, b := range data {
			require.LessOrEqual(t, cap(b.ReadOnlyData()), max(2*size, 256), "buffer for a %d-byte message", size)
		}

		var got etcdserverpb.PutRequest
		require.NoError(t, pooledCodec{}.Unmarshal(data, &got))
		require.True(t, proto.Equal(req, &got))
		data.Free()
		// The decoded value owns its bytes: the freed buffer is reused.
		require.Len(t, got.Value, n)
		require.Equal(t, byte('v'), got.Value[n-1])
	}
}

func TestPooledCodecRefusesNonProtobuf(t *testing.T) {
	_, err := pooledCodec{}.Marshal("not a message")
	require.ErrorContains(t, err, "not a protobuf message")
	var s string
	require.ErrorContains(t, pooledCodec{}.Unmarshal(nil, &s), "not a protobuf message")
}
