package mesh

import (
	"fmt"
	"regexp"
)

// clusterNameRE is Cilium's rule for cluster names: DNS-label-like, at most
// 32 characters.
var clusterNameRE = regexp.MustCompile(`^([a-z0-9][-a-z0-9]{0,30})?[a-z0-9]$`)

// validateClusterName checks name against Cilium's rule. It stands in for
// store.ValidateClusterName, added in parallel; the integrator switches the
// callers to the shared check once both are merged.
func validateClusterName(name string) error {
	if !clusterNameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use at most 32 lowercase alphanumerics and '-', starting and ending with an alphanumeric", ErrInvalidClusterName, name)
	}
	return nil
}
