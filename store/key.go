package store

import "path"

// NamedKey is anything with a name under a store's prefix.
type NamedKey interface {
	// GetKeyName returns the name of the key, relative to the store's
	// prefix. The key is stored at path.Join(prefix, GetKeyName()).
	GetKeyName() string
}

// Key is an object a store can write and read.
type Key interface {
	NamedKey

	// Marshal returns the value to store.
	Marshal() ([]byte, error)

	// Unmarshal sets the key from its name (relative to the prefix) and
	// its stored value.
	Unmarshal(key string, data []byte) error
}

// LocalKey is a Key owned by this process (SharedStore keeps a copy).
type LocalKey interface {
	Key

	// DeepKeyCopy returns a copy that shares no mutable state.
	DeepKeyCopy() LocalKey
}

// KeyCreator returns a new, empty Key for Unmarshal.
type KeyCreator func() Key

// Observer receives the changes a reading store sees, in event order, from
// one goroutine at a time.
type Observer interface {
	// OnUpdate is called with a key that was created or changed.
	OnUpdate(k Key)
	// OnDelete is called with a key that was deleted: the last key object
	// the store held for that name.
	OnDelete(k NamedKey)
}

// KVPair is the simplest Key: a name and raw bytes.
type KVPair struct {
	Key   string
	Value []byte
}

// NewKVPair returns a KVPair with the given name and value.
func NewKVPair(key, value string) *KVPair {
	return &KVPair{Key: key, Value: []byte(value)}
}

// KVPairCreator is a KeyCreator of empty KVPairs.
func KVPairCreator() Key { return &KVPair{} }

// GetKeyName implements NamedKey.
func (kv *KVPair) GetKeyName() string { return kv.Key }

// Marshal implements Key: the value as it is.
func (kv *KVPair) Marshal() ([]byte, error) { return kv.Value, nil }

// Unmarshal implements Key. The value is kept, not copied: the data handed
// over by a watch is not reused by the backend.
func (kv *KVPair) Unmarshal(key string, data []byte) error {
	kv.Key = key
	kv.Value = data
	return nil
}

// DeepKeyCopy implements LocalKey.
func (kv *KVPair) DeepKeyCopy() LocalKey {
	return &KVPair{Key: kv.Key, Value: append([]byte(nil), kv.Value...)}
}

// keyPath is where a key of prefix is stored: path.Join(prefix, name).
func keyPath(prefix, name string) string { return path.Join(prefix, name) }

// joinBase returns the string that keyPath(prefix, name) starts with for
// every clean name (see cleanName): the cleaned prefix and a "/".
func joinBase(prefix string) string {
	switch c := path.Clean(prefix); c {
	case "/":
		return c
	case ".":
		return ""
	default:
		return c + "/"
	}
}

// cleanName reports whether path.Join would keep name as it is: not empty,
// no leading or trailing "/", no empty, "." or ".." element.
func cleanName(name string) bool {
	if name == "" || name[0] == '/' || name[len(name)-1] == '/' {
		return false
	}
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '/' {
			switch name[start:i] {
			case "", ".", "..":
				return false
			}
			start = i + 1
		}
	}
	return true
}
