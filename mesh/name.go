package mesh

import "github.com/hivekv/kvstore/store"

// validateClusterName checks name against Cilium's rule for cluster names,
// the one the store applies wherever a name becomes part of a key
// (store.ValidateClusterName). Its error matches ErrInvalidClusterName.
func validateClusterName(name string) error {
	return store.ValidateClusterName(name)
}
