package store

import "fmt"

// MaxClusterNameLength is the longest cluster name ValidateClusterName
// accepts (Cilium's limit).
const MaxClusterNameLength = 32

// ValidateClusterName checks name against Cilium's rule for cluster names:
// 1 to MaxClusterNameLength characters, each a lowercase letter a-z, a digit
// or '-', the first and last a letter or digit. Every name that becomes part
// of a key (a SyncStore's synced marker, a Mirror's copies, the markers a
// WatchStoreManager watches) is checked with it, because a name such as
// ".." or "c3/.." would address another cluster's keys, or all of them.
//
// The error matches ErrInvalidClusterName (and ErrEmptyClusterName for "")
// and states the rule.
func ValidateClusterName(name string) error {
	if name == "" {
		return fmt.Errorf("%w: %w: %s", ErrInvalidClusterName, ErrEmptyClusterName, clusterNameRule)
	}
	if len(name) > MaxClusterNameLength {
		return fmt.Errorf("%w %q: %d characters, more than %d: %s",
			ErrInvalidClusterName, name, len(name), MaxClusterNameLength, clusterNameRule)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if alnum || c == '-' && i > 0 && i < len(name)-1 {
			continue
		}
		return fmt.Errorf("%w %q: %s", ErrInvalidClusterName, name, clusterNameRule)
	}
	return nil
}

// clusterNameRule is the rule as the errors state it.
var clusterNameRule = fmt.Sprintf("a cluster name has at most %d characters, lowercase letters a-z, digits and '-', "+
	"and starts and ends with a letter or digit (Cilium's rule)", MaxClusterNameLength)
