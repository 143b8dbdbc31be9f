package etcdfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hivekv/kvstore"
)

// FuzzEtcdConfigFile feeds arbitrary etcd.config contents to the parser.
// Whatever the file holds, the answer is a configuration or an error a
// caller can act on (ErrInvalidConfig, or a file not ready yet), never a
// panic. File names inside the YAML (CA, certificate, key) are only read,
// never written.
func FuzzEtcdConfigFile(f *testing.F) {
	for _, s := range []string{
		"endpoints:\n- http://127.0.0.1:2379\n",
		"endpoints: [https://a:2379]\ntrusted-ca-file: ca.pem\ncert-file: c.pem\nkey-file: k.pem\n",
		"endpoints: [http://a:2379]\nusername: u\npassword: p\ndial-timeout: 5s\n",
		"endpoints: [https://a:2379]\ninsecure-skip-tls-verify: true\n",
		"endpoints: [http://a]\ninsecure-transport: true\ncert-file: x\n",
		"cert-file: only-cert.pem\n",
		"unknown-key: 1\n",
		"endpoints: 3\n",
		"- a\n- b\n",
		"",
		"\x00\xff",
		"endpoints: [http://a]\ndial-timeout: -1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "etcd.config")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(path)
		if err != nil && !errors.Is(err, kvstore.ErrInvalidConfig) && !NotReady(err) {
			t.Fatalf("error neither ErrInvalidConfig nor a file not ready: %v", err)
		}
	})
}
