// Package validate holds the checks every backend runs on keys and writes
// before touching the store, so that the etcd backend and the in-memory
// backend refuse exactly the same requests with exactly the same errors.
package validate
