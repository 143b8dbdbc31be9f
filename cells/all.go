package cells

import "github.com/hivekv/kvstore/config"

// All is what a program that uses the kvstore usually wants, in one line:
// the client (Client), the user-management view of it (UserMgmtClient), the
// heartbeat writer (heartbeat.Cell) and the stale-lock GC (lockgc.Cell).
//
// With --kvstore unset the client promise is rejected with
// kvstore.ErrNotConfigured and the other cells log that and stay idle, so a
// program can include All unconditionally.
//
// AllWithDefaults is All with other defaults for the --kvstore* flags.
var All = AllWithDefaults(config.DefaultConfig)
