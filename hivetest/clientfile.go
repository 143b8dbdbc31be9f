package hivetest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/hivekv/kvstore"
)

// ClientFileOptions is the content of a clientv3 YAML config file.
type ClientFileOptions struct {
	Endpoints                 []string
	CAFile, CertFile, KeyFile string
	Username, Password        string
	// DialTimeout defaults to 5 s.
	DialTimeout time.Duration
}

// clientFile mirrors the keys read by go.etcd.io/etcd/client/v3/yaml.
// Durations are integer nanoseconds there, because the YAML is decoded as
// JSON into time.Duration.
type clientFile struct {
	Endpoints         []string `json:"endpoints"`
	DialTimeout       int64    `json:"dial-timeout,omitempty"`
	InsecureTransport bool     `json:"insecure-transport,omitempty"`
	TrustedCAFile     string   `json:"trusted-ca-file,omitempty"`
	CertFile          string   `json:"cert-file,omitempty"`
	KeyFile           string   `json:"key-file,omitempty"`
	Username          string   `json:"username,omitempty"`
	Password          string   `json:"password,omitempty"`
}

// WriteClientConfigFile writes o as a clientv3 YAML config file into a
// temporary directory of the test and returns its path, for code that is
// configured by file (flags such as --etcd-config).
func WriteClientConfigFile(tb testing.TB, o ClientFileOptions) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "etcd-client.yaml")
	if err := writeClientConfigFile(path, o); err != nil {
		tb.Fatalf("hivetest: write client config: %v", err)
	}
	return path
}

// WriteClientConfigFileTo is WriteClientConfigFile for callers without a
// testing.TB, such as the demo binary.
func WriteClientConfigFileTo(path string, o ClientFileOptions) error {
	return writeClientConfigFile(path, o)
}

func writeClientConfigFile(path string, o ClientFileOptions) error {
	f := clientFile{
		Endpoints:     o.Endpoints,
		DialTimeout:   int64(o.DialTimeout),
		TrustedCAFile: o.CAFile,
		CertFile:      o.CertFile,
		KeyFile:       o.KeyFile,
		Username:      o.Username,
		Password:      o.Password,
	}
	if f.DialTimeout == 0 {
		f.DialTimeout = int64(clientDialTimeout)
	}
	// Without TLS files the yaml loader would still install an empty TLS
	// config; say explicitly that the transport is plain.
	f.InsecureTransport = o.CAFile == "" && o.CertFile == ""
	data, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// ClientFileOptions describes a client of this server: TLS files and root
// credentials when the server was started with them.
func (s *Server) ClientFileOptions() ClientFileOptions {
	o := ClientFileOptions{Endpoints: s.Endpoints()}
	if c := s.cfg.certs; c != nil {
		o.CAFile, o.CertFile, o.KeyFile = c.CAFile, c.ClientCertFile, c.ClientKeyFile
	}
	if s.cfg.auth {
		o.Username, o.Password = rootUser, s.cfg.rootPassword
	}
	return o
}

// WriteClientConfigFile writes a client config file for this server (see
// ClientFileOptions) and returns its path.
func (s *Server) WriteClientConfigFile(tb testing.TB) string {
	tb.Helper()
	return WriteClientConfigFile(tb, s.ClientFileOptions())
}

// KVStoreOptions returns the --kvstore-opt map that connects a kvstore etcd
// client to this server: the endpoint alone for a plain server, a client
// config file (written under tb's temporary directory) when the server was
// started with TLS or authentication.
func (s *Server) KVStoreOptions(tb testing.TB) map[string]string {
	tb.Helper()
	if s.clientTLS != nil || s.cfg.auth {
		return map[string]string{kvstore.EtcdOptionConfig: s.WriteClientConfigFile(tb)}
	}
	return map[string]string{kvstore.EtcdAddrOption: s.Endpoint()}
}
