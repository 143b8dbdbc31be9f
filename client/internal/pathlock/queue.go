package pathlock

import "strings"

// InQueue reports whether key is an owner key in the distributed lock queue
// of the path whose queue prefix is queuePrefix (the path and a "/"): an
// owner key is the prefix followed by a lease id, with no further "/". Keys
// further down belong to the locks of longer paths (a lock on "x/y" has its
// key under "x/"), which must not hold up a lock on "x": otherwise a client
// holding "x/y" would wait for itself when it locks "x".
func InQueue(queuePrefix, key string) bool {
	rest, ok := strings.CutPrefix(key, queuePrefix)
	return ok && rest != "" && !strings.Contains(rest, "/")
}
