// Package operr words the errors of key operations the same way in every
// backend, as *kvstore.OpError: `kvstore: update "cilium/x": cause`.
package operr
