package kvstore

// State is the coarse health of a client.
type State string

const (
	// StateOK means connected with quorum and every check passing.
	StateOK State = "Ok"
	// StateWarning means not yet connected, or degraded but working.
	StateWarning State = "Warning"
	// StateFailure means a status check failed.
	StateFailure State = "Failure"
)

// Status is a snapshot of a client's health.
type Status struct {
	// State is the coarse health.
	State State
	// Msg is a one-line human summary, for example
	// "etcd: 1/1 connected, leases=1, lock leases=1, has-quorum=true: https://10.0.0.1:2379 - 3.7.3 (Leader)",
	// or the reason of the failure.
	Msg string
}

// String returns "<State>: <Msg>".
func (s *Status) String() string {
	if s == nil {
		return "<nil>"
	}
	return string(s.State) + ": " + s.Msg
}
