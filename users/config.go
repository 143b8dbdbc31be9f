package users

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/hivekv/kvstore"
)

// Flag names.
const (
	FlagUsersFile         = "kvstore-users-file"
	FlagUsersSyncInterval = "kvstore-users-sync-interval"
	FlagUsersStateKey     = "kvstore-users-state-key"
)

// DefaultStateKey is where the cell records the users it manages.
const DefaultStateKey = kvstore.BaseKeyPrefix + "/.users-managed"

// DefaultSyncInterval is how often the users file is checked for changes.
const DefaultSyncInterval = 10 * time.Second

// Config is the users cell's configuration; see the flags for the meaning of
// each field.
type Config struct {
	KVStoreUsersFile         string
	KVStoreUsersSyncInterval time.Duration
	KVStoreUsersStateKey     string
}

// DefaultConfig disables the cell (no file).
var DefaultConfig = Config{
	KVStoreUsersSyncInterval: DefaultSyncInterval,
	KVStoreUsersStateKey:     DefaultStateKey,
}

// Flags implements cell.Flagger.
func (def Config) Flags(fs *pflag.FlagSet) {
	fs.String(FlagUsersFile, def.KVStoreUsersFile,
		"YAML file listing the etcd users to keep (name and roles); empty disables users sync")
	fs.Duration(FlagUsersSyncInterval, def.KVStoreUsersSyncInterval,
		"How often the users file is checked for changes")
	fs.String(FlagUsersStateKey, def.KVStoreUsersStateKey,
		"kvstore key recording the users created from the users file")
}

// Validate checks the configuration of an enabled cell.
func (c Config) Validate() error {
	if c.KVStoreUsersFile == "" {
		return nil
	}
	if c.KVStoreUsersSyncInterval <= 0 {
		return fmt.Errorf("%w: --%s=%s must be positive, e.g. --%s=%s", kvstore.ErrInvalidConfig,
			FlagUsersSyncInterval, c.KVStoreUsersSyncInterval, FlagUsersSyncInterval, DefaultSyncInterval)
	}
	if c.KVStoreUsersStateKey == "" {
		return fmt.Errorf("%w: --%s must not be empty (default %s)", kvstore.ErrInvalidConfig,
			FlagUsersStateKey, DefaultStateKey)
	}
	return nil
}
