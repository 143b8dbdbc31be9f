package mesh

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// configFile is one remote cluster's entry of the config directory as last
// read.
type configFile struct {
	name string
	path string
	// sum is the content's hash: a change of content (also through an
	// atomic ..data symlink swap) is a change of configuration.
	sum [sha256.Size]byte
	// err is why the entry cannot be used (a bad name, an unreadable
	// file); the cluster is then reported with it and not mirrored.
	err error
}

// readConfigDir lists the remote clusters of dir. Entries starting with a dot
// are Kubernetes' bookkeeping (..data, ..2026_12_08_...), directories are not
// clusters, and a file named after the local cluster is the local cluster
// itself. Symlinks are followed, as Kubernetes mounts each key as a symlink
// into ..data. A directory that cannot be read is an error: the caller keeps
// the clusters it has rather than treating a transient failure as "all
// removed".
func readConfigDir(dir, local string) (map[string]configFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading cluster config directory %q: %w", dir, err)
	}
	out := make(map[string]configFile, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || name == local {
			continue
		}
		p := filepath.Join(dir, name)
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a dangling symlink mid-swap, or removed since ReadDir
		}
		if err == nil && info.IsDir() {
			continue
		}
		cf := configFile{name: name, path: p}
		if verr := validateClusterName(name); verr != nil {
			cf.err = fmt.Errorf("cluster config file %q: %w", p, verr)
			out[name] = cf
			continue
		}
		data, rerr := os.ReadFile(p)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			continue
		case rerr != nil:
			cf.err = fmt.Errorf("%w: cluster %q: %w", ErrRemoteConfig, name, rerr)
		case len(strings.TrimSpace(string(data))) == 0:
			cf.err = fmt.Errorf("%w: cluster %q: config file %q is empty: it must name the etcd endpoints", ErrRemoteConfig, name, p)
		}
		cf.sum = sha256.Sum256(data)
		out[name] = cf
	}
	return out, nil
}
