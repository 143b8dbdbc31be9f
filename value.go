package kvstore

// Value is a stored value with the metadata the backend returns with it.
type Value struct {
	// Data is the stored value.
	Data []byte
	// ModRevision is the store revision of the last write of the key.
	ModRevision uint64
	// LeaseID is the lease the key is attached to, 0 for none.
	LeaseID int64
}

// KeyValuePairs maps keys to their values, as returned by ListPrefix.
type KeyValuePairs map[string]Value
