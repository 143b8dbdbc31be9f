package kvstore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore"
)

func TestStatusString(t *testing.T) {
	tests := []struct {
		name   string
		status *kvstore.Status
		want   string
	}{
		{"nil", nil, "<nil>"},
		{"zero", &kvstore.Status{}, ": "},
		{"ok", &kvstore.Status{State: kvstore.StateOK, Msg: "etcd: 1/1 connected"}, "Ok: etcd: 1/1 connected"},
		{"warning", &kvstore.Status{State: kvstore.StateWarning, Msg: "connecting"}, "Warning: connecting"},
		{"failure", &kvstore.Status{State: kvstore.StateFailure, Msg: "quorum lost"}, "Failure: quorum lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.status.String())
		})
	}
}
