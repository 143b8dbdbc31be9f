package users_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hivekv/kvstore/users"
)

func TestUsersParseFile(t *testing.T) {
	for name, tc := range map[string]struct {
		in   string
		want map[string][]string
		err  string
	}{
		"list": {
			in:   "- name: a\n  roles: [r2, r1, r2]\n- name: b\n  roles: [r1]\n",
			want: map[string][]string{"a": {"r1", "r2"}, "b": {"r1"}},
		},
		"cilium form": {
			in:   "users:\n- name: remote\n  role: remote\n- name: x\n  role: a\n  roles: [b]\n",
			want: map[string][]string{"remote": {"remote"}, "x": {"a", "b"}},
		},
		"no roles":      {in: "- name: a\n", want: map[string][]string{"a": nil}},
		"empty file":    {in: "", err: "holds no list of users"},
		"blank lines":   {in: "\n\n", err: "holds no list of users"},
		"comment only":  {in: "# nobody\n", err: "holds no list of users"},
		"users: null":   {in: "users:\n", err: "holds no list of users"},
		"empty list":    {in: "[]\n", want: map[string][]string{}},
		"users: []":     {in: "users: []\n", want: map[string][]string{}},
		"bad yaml":      {in: "- name: [a\n", err: "not valid YAML"},
		"unknown field": {in: "- name: a\n  rolez: [r]\n", err: `unknown field "rolez"`},
		"no name":       {in: "- roles: [r]\n", err: "user #1 has no name"},
		"duplicate":     {in: "- name: a\n- name: a\n", err: `user "a" is listed twice`},
		"root":          {in: "- name: root\n  roles: [root]\n", err: `user "root" is reserved`},
		"empty role":    {in: "- name: a\n  roles: ['']\n", err: `user "a" has an empty role`},
		"scalar":        {in: "hello\n", err: "expected a list of users"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := users.ParseFile([]byte(tc.in))
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
