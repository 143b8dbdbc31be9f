package hivetest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
)

// heldPorts lists every port handed to a member of this process that has not
// been closed for good. A stopped member gives its ports back to the kernel,
// and without this list a parallel test could be handed the same port and
// make the later Restart fail.
var heldPorts = struct {
	sync.Mutex
	ports map[int]struct{}
}{ports: make(map[int]struct{})}

// reservePorts picks n distinct free loopback TCP ports. All listeners stay
// open until every port is chosen so the kernel cannot return one twice; they
// are closed before returning because etcd binds the ports itself. Another
// process may still grab a port in the gap, which is why starts retry on
// "address already in use".
func reservePorts(n int) ([]int, error) {
	var (
		listeners []net.Listener
		ports     []int
	)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	heldPorts.Lock()
	defer heldPorts.Unlock()
	for attempts := 0; len(ports) < n; attempts++ {
		if attempts >= 20*n+20 {
			return nil, fmt.Errorf("hivetest: could not find %d free ports", n)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("hivetest: reserving a port: %w", err)
		}
		listeners = append(listeners, l)
		port := l.Addr().(*net.TCPAddr).Port
		if _, taken := heldPorts.ports[port]; taken {
			continue // owned by a stopped member; keep it bound so we get another
		}
		ports = append(ports, port)
	}
	for _, p := range ports {
		heldPorts.ports[p] = struct{}{}
	}
	return ports, nil
}

// releasePorts makes ports available to reservePorts again.
func releasePorts(ports ...int) {
	heldPorts.Lock()
	defer heldPorts.Unlock()
	for _, p := range ports {
		delete(heldPorts.ports, p)
	}
}

// isAddrInUse reports whether err comes from binding a port that is taken.
// The text check covers errors that etcd flattened with %v on the way up.
func isAddrInUse(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}
