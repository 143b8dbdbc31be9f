package faults

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// ProxyMode is what a Proxy does with the traffic of its connections.
type ProxyMode int

const (
	// Pass forwards bytes both ways as they come.
	Pass ProxyMode = iota
	// Delay forwards every chunk after a fixed delay (SetDelay).
	Delay
	// Blackhole stops forwarding: bytes already read are held, new
	// connections are accepted but not connected through. Like a network
	// that drops packets which TCP retransmits later, nothing is lost once
	// the proxy passes again, unless an end gave up on the connection.
	Blackhole
	// Cut closes every connection and closes new ones at once, like a
	// member whose port refuses or resets connections.
	Cut
	// Drop loses each chunk with some probability (SetDrop) the way TCP
	// loses a packet: the chunk is sent again after a retransmission
	// timeout (200 ms, doubling to 800 ms while the retransmissions are
	// lost too),
	// so the stream stalls but stays intact and in order. (Throwing the
	// bytes away instead corrupts the streams above TCP, which no real
	// network does: an etcd member fed such a stream panicked on a raft
	// message claiming a commit beyond its log.)
	Drop
)

func (m ProxyMode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Delay:
		return "delay"
	case Blackhole:
		return "blackhole"
	case Cut:
		return "cut"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("mode(%d)", int(m))
}

// Proxy is a TCP proxy on a loopback port in front of one target address.
// Clients that dial Addr instead of the target can be cut off, slowed down
// or blackholed without touching the target. Methods are safe for
// concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	mode    ProxyMode
	delay   time.Duration
	jitter  time.Duration // delay is uniform in [delay-jitter, delay+jitter]
	drop    float64       // the fraction of chunks Drop loses
	changed chan struct{} // closed and replaced on every mode change
	conns   map[*proxyConn]struct{}
	closed  bool

	wg sync.WaitGroup
}

// proxyConn is one client connection and, once connected through, its
// connection to the target.
type proxyConn struct {
	client, server net.Conn
}

func (c *proxyConn) close() {
	_ = c.client.Close()
	if c.server != nil {
		_ = c.server.Close()
	}
}

// NewProxy listens on a free loopback port and forwards to target
// ("host:port"). Close stops it.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faults: proxy for %s: %w", target, err)
	}
	p := &Proxy{target: target, ln: ln, changed: make(chan struct{}), conns: make(map[*proxyConn]struct{})}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr returns the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Mode returns the current mode.
func (p *Proxy) Mode() ProxyMode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetMode switches the proxy to m. Switching to Cut closes every open
// connection; leaving Blackhole releases the held bytes and connections.
func (p *Proxy) SetMode(m ProxyMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	close(p.changed)
	p.changed = make(chan struct{})
	if m == Cut {
		for c := range p.conns {
			c.close()
		}
	}
}

// SetDelay switches the proxy to Delay with d per forwarded chunk.
func (p *Proxy) SetDelay(d time.Duration) { p.SetJitteredDelay(d, 0) }

// SetJitteredDelay switches the proxy to Delay with a delay per forwarded
// chunk drawn uniformly from [d-jitter, d+jitter].
func (p *Proxy) SetJitteredDelay(d, jitter time.Duration) {
	p.mu.Lock()
	p.delay, p.jitter = d, min(jitter, d)
	p.mu.Unlock()
	p.SetMode(Delay)
}

// dropRTO is the first retransmission timeout of a chunk Drop lost;
// later ones double up to maxDropRTO.
const (
	dropRTO    = 200 * time.Millisecond
	maxDropRTO = 800 * time.Millisecond
)

// SetDrop switches the proxy to Drop, losing fraction (0..1) of the
// chunks it reads (each one sent again after a retransmission timeout).
func (p *Proxy) SetDrop(fraction float64) {
	p.mu.Lock()
	p.drop = fraction
	p.mu.Unlock()
	p.SetMode(Drop)
}

// Close stops listening, closes every connection and waits for the
// proxy's goroutines. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	for c := range p.conns {
		c.close()
	}
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		c := &proxyConn{client: conn}
		p.mu.Lock()
		if p.closed || p.mode == Cut {
			p.mu.Unlock()
			_ = conn.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.serve(c) })
	}
}

// serve connects c through once the mode lets traffic pass, then pumps
// both directions until either side closes.
func (p *Proxy) serve(c *proxyConn) {
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if _, _, ok := p.gate(); !ok {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return // the client sees a closed connection, as with a dead member
	}
	p.mu.Lock()
	c.server = server
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() { p.pump(c.server, c.client); c.close() })
	wg.Go(func() { p.pump(c.client, c.server); c.close() })
	wg.Wait()
}

// gate blocks while the proxy blackholes and returns the delay to apply
// and whether to drop the chunk; ok is false once the connection must
// close (Cut or Close).
func (p *Proxy) gate() (delay time.Duration, drop, ok bool) {
	for {
		p.mu.Lock()
		mode, d, j, frac, changed, closed := p.mode, p.delay, p.jitter, p.drop, p.changed, p.closed
		p.mu.Unlock()
		switch {
		case closed || mode == Cut:
			return 0, false, false
		case mode == Blackhole:
			<-changed
		case mode == Delay:
			if j > 0 {
				d += time.Duration(rand.Int64N(int64(2*j)+1)) - j
			}
			return d, false, true
		case mode == Drop:
			return 0, rand.Float64() < frac, true
		default:
			return 0, false, true
		}
	}
}

// pump copies src to dst chunk by chunk, asking the gate before each write.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			delay, drop, ok := p.gate()
			if !ok {
				return
			}
			for rto := dropRTO; drop; rto = min(2*rto, maxDropRTO) {
				time.Sleep(rto)
				if delay, drop, ok = p.gate(); !ok {
					return
				}
			}
			if delay > 0 {
				time.Sleep(delay) // latency of this chunk; the stream stays ordered
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			// A close is traffic too: while blackholed the other end
			// must not learn that this side went away.
			_, _, _ = p.gate()
			return
		}
	}
}
