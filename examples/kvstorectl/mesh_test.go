package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/hivetest"
	"github.com/hivekv/kvstore/mesh"
)

func TestCtlMesh(t *testing.T) {
	local := "ctl-mesh-test"
	code, _, stderr := ctl(t, "", "mesh", "--cluster-name", local)
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, `no leader runs for local cluster "ctl-mesh-test"`)

	st := mesh.Status{LocalCluster: local, Leader: true, Clusters: []mesh.ClusterStatus{
		{Name: "c1", Connected: true, Synced: true, Keys: 3},
		{Name: "c2", LastError: `remote cluster unreachable: cluster "c2": no route`},
	}}
	v, err := json.Marshal(st)
	require.NoError(t, err)
	_, err = hivetest.SharedServer(t).Client(t).Put(context.Background(), mesh.StatusKey(local), string(v))
	require.NoError(t, err)

	code, out, stderr := ctl(t, "", "mesh", "--cluster-name", local)
	requireOK(t, code, stderr)
	require.Contains(t, out, "kvstoremesh of cluster ctl-mesh-test: leader, 2 remote clusters")
	require.Regexp(t, `(?m)^c1 +true +true +3 +mirroring`, out)
	require.Regexp(t, `(?m)^c2 +false +false +0 +connecting +remote cluster unreachable: cluster "c2"`, out)

	code, _, stderr = ctl(t, "", "mesh", "--cluster-name", local, "--ready")
	require.Equal(t, exitFail, code)
	require.Contains(t, stderr, "not every remote cluster")

	code, _, stderr = ctl(t, "", "mesh", "-o", "yaml")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `-o "yaml"`)
}
