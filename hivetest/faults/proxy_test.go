package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// echoServer echoes every line back until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func dialProxy(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	_, err := c.Write([]byte(line + "\n"))
	require.NoError(t, err)
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, line+"\n", got)
}

func TestProxyModes(t *testing.T) {
	p, err := NewProxy(echoServer(t))
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()

	c, r := dialProxy(t, p)
	roundTrip(t, c, r, "pass")

	p.SetDelay(time.Millisecond)
	require.Equal(t, Delay, p.Mode())
	roundTrip(t, c, r, "slow")

	// Blackholed bytes are held, not lost: they arrive once it passes.
	p.SetMode(Blackhole)
	_, err = c.Write([]byte("held\n"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = r.ReadString('\n')
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "nothing gets through a blackhole")
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	r = bufio.NewReader(c) // the timed-out reader keeps its error
	p.SetMode(Pass)
	got, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "held\n", got)

	// Cut closes open connections and every new one.
	p.SetMode(Cut)
	_, err = r.ReadString('\n')
	require.Error(t, err)
	c2, r2 := dialProxy(t, p)
	_, _ = c2.Write([]byte("x\n"))
	_, err = r2.ReadString('\n')
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "got %v", err)

	p.SetMode(Pass)
	c3, r3 := dialProxy(t, p)
	roundTrip(t, c3, r3, "again")
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// Drop loses chunks as TCP loses packets: late, never missing or out of
// order; a jittered delay keeps the order too.
func TestProxyDropAndJitterKeepStreamsIntact(t *testing.T) {
	p, err := NewProxy(echoServer(t))
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Close()) }()
	c, r := dialProxy(t, p)

	p.SetDrop(0.5)
	require.Equal(t, Drop, p.Mode())
	for i := range 2 {
		roundTrip(t, c, r, fmt.Sprintf("lossy-%d", i))
	}
	p.SetJitteredDelay(3*time.Millisecond, 2*time.Millisecond)
	require.Equal(t, Delay, p.Mode())
	for i := range 6 {
		roundTrip(t, c, r, fmt.Sprintf("jitter-%d", i))
	}
}
