package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
)

// tlsProbe is the outcome of the one TLS handshake that both the connection
// diagnosis (probeTransport) and EtcdDbg run: what the server asked of the
// client besides the handshake's own verdict.
type tlsProbe struct {
	conn *tls.Conn
	// askedForCert: the server requested a client certificate.
	askedForCert bool
	// certNotAccepted: the client certificate is signed by none of the CAs
	// the server named as acceptable; acceptableCAs lists them.
	certNotAccepted bool
	acceptableCAs   []string
}

// probeTLS runs a TLS handshake over conn with cfg (cloned; nil: defaults),
// offering the application protocols alpn (the client offers "h2"; EtcdDbg
// none, as it then speaks HTTP/1.1), server name from serverName unless cfg
// sets one. The client certificate is the one cfg provides; the
// probe only watches what the server asks for. A server that hangs up on
// the handshake is reported as one that probably does not speak TLS.
func probeTLS(ctx context.Context, conn net.Conn, cfg *tls.Config, serverName string, alpn []string) (tlsProbe, error) {
	var p tlsProbe
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg != nil {
		c = cfg.Clone()
	}
	if c.ServerName == "" {
		c.ServerName = serverName
	}
	c.NextProtos = alpn
	provide := c.GetClientCertificate
	certs := c.Certificates
	c.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		p.askedForCert = true
		cert := &tls.Certificate{} // none
		switch {
		case provide != nil:
			got, err := provide(cri)
			if err != nil {
				return nil, err
			}
			cert = got
		case len(certs) > 0:
			cert = &certs[0]
		}
		if len(cert.Certificate) > 0 && len(cri.AcceptableCAs) > 0 && cri.SupportsCertificate(cert) != nil {
			p.certNotAccepted = true
			p.acceptableCAs = caNames(cri.AcceptableCAs)
		}
		return cert, nil
	}
	tc := tls.Client(conn, c)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(err, io.EOF) {
			return p, fmt.Errorf("the server closed the connection on the TLS handshake: it probably does not speak TLS (%w)", err)
		}
		return p, err
	}
	p.conn = tc
	return p, nil
}
