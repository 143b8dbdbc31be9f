package etcd

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// bufferPool holds the encoded requests our clients send and the responses
// they decode, for every client of the process.
//
// gRPC's default pool has tiers of 256 B, 4, 16 and 32 KiB and then 1 MiB, so
// every message between 32 KiB and 1 MiB takes a whole MiB: a list page of
// 256 keys with 256-byte values (~75 KiB), a write transaction of a
// SyncStore's batch, the watch response carrying its events. A store with a
// few batches in flight and their events arriving held half a dozen of
// those, a third of its live heap — and the garbage collector lets the heap
// grow to twice what is live. Tiers at every power of two up to 1 MiB waste
// at most half of a buffer instead.
var bufferPool = func() mem.BufferPool {
	p, err := mem.NewBinaryTieredBufferPool(8, 10, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	if err != nil {
		// The exponents are constants: only a programming error lands here.
		panic(err)
	}
	return p
}()

// pooledCodec is gRPC's "proto" wire format with bufferPool. gRPC's own codec
// takes its buffers from the process-wide default pool, which a library must
// not replace; a codec forced per connection is ours alone.
type pooledCodec struct{}

func (pooledCodec) Name() string { return "proto" }

func (pooledCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("etcd client codec: cannot encode %T: not a protobuf message", v)
	}
	opts := proto.MarshalOptions{UseCachedSize: true}
	size := opts.Size(m)
	if mem.IsBelowBufferPoolingThreshold(size) {
		b, err := opts.MarshalAppend(make([]byte, 0, size), m)
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	buf := bufferPool.Get(size)
	b, err := opts.MarshalAppend((*buf)[:0], m)
	if err != nil {
		bufferPool.Put(buf)
		return nil, err
	}
	*buf = b
	return mem.BufferSlice{mem.NewBuffer(buf, bufferPool)}, nil
}

func (pooledCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("etcd client codec: cannot decode into %T: not a protobuf message", v)
	}
	buf := data.MaterializeToBuffer(bufferPool)
	defer buf.Free()
	// Unmarshal copies bytes fields out of the buffer, which is reused
	// once freed.
	return proto.Unmarshal(buf.ReadOnlyData(), m)
}

// bufferPoolOptions are the dial options that make a connection use
// bufferPool for the messages it encodes and decodes. They go before the
// caller's dial options, so that one of those may replace them. (The frames
// gRPC reads from the connection stay in its own pool: handing it this one
// too made a list allocate more and peak higher.)
func bufferPoolOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodecV2(pooledCodec{}))}
}
