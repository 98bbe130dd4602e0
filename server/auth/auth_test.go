package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/config"
)

func TestAuthenticate(t *testing.T) {
	a := New([]config.APIToken{
		{Name: "ops", Role: config.RoleAdmin, Secret: "aaaaaaaaaaaaaaaaaaaa"},
		{Name: "dash", Role: config.RoleRead, Secret: "bbbbbbbbbbbbbbbbbbbb"},
	})
	tests := []struct {
		name, header string
		want         Identity
		err          error
	}{
		{"admin", "Bearer aaaaaaaaaaaaaaaaaaaa", Identity{Name: "ops", Role: RoleAdmin}, nil},
		{"read, lower-case scheme", "bearer bbbbbbbbbbbbbbbbbbbb", Identity{Name: "dash", Role: RoleRead}, nil},
		{"no header", "", Identity{Name: Anonymous}, ErrNoToken},
		{"basic auth", "Basic YWJjOmRlZg==", Identity{Name: Anonymous}, ErrNoToken},
		{"empty token", "Bearer ", Identity{Name: Anonymous}, ErrNoToken},
		{"prefix of a token", "Bearer aaaaaaaaaa", Identity{Name: Anonymous}, ErrBadToken},
		{"unknown", "Bearer cccccccccccccccccccc", Identity{Name: Anonymous}, ErrBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/tasks", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, err := a.Authenticate(r)
			require.ErrorIs(t, err, tt.err)
			require.Equal(t, tt.want, got)
		})
	}
	require.True(t, a.Enabled())
	require.False(t, New(nil).Enabled())
	var none *Authenticator
	require.False(t, none.Enabled())
}

func TestRequiredRole(t *testing.T) {
	tests := []struct {
		method, path, cdcType string
		metricsNeedToken      bool
		want                  Role
	}{
		{"GET", "/healthz", "", false, RoleNone},
		{"GET", "/readyz", "", true, RoleNone},
		{"GET", "/", "", false, RoleNone},
		{"GET", "/metrics", "", false, RoleNone},
		{"GET", "/metrics", "", true, RoleRead},
		{"GET", "/api/v1/tasks", "", false, RoleRead},
		{"GET", "/api/v1/tasks/x/status", "", false, RoleRead},
		{"GET", "/api/v1/anything-new", "", false, RoleRead},
		{"POST", "/api/v1/tasks", "", false, RoleAdmin},
		{"PATCH", "/api/v1/tasks/x", "", false, RoleAdmin},
		{"DELETE", "/api/v1/tasks/x", "", false, RoleAdmin},
		{"POST", "/healthz", "", false, RoleAdmin},
		{"GET", "/debug/pprof/", "", false, RoleAdmin},
		{"POST", "/cdc", "list", false, RoleRead},
		{"POST", "/cdc", "get", false, RoleRead},
		{"POST", "/cdc", "position", false, RoleRead},
		{"POST", "/cdc", "create", false, RoleAdmin},
		{"POST", "/cdc", "maintenance", false, RoleAdmin},
		{"POST", "/cdc", "", false, RoleAdmin},
		{"GET", "/cdc", "", false, RoleAdmin},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		require.Equal(t, tt.want, Policy{MetricsNeedToken: tt.metricsNeedToken}.Required(r, tt.cdcType), "%s %s %s", tt.method, tt.path, tt.cdcType)
	}
}

func TestRoleAllows(t *testing.T) {
	require.True(t, RoleAdmin.Allows(RoleRead))
	require.True(t, RoleAdmin.Allows(RoleAdmin))
	require.True(t, RoleRead.Allows(RoleRead))
	require.False(t, RoleRead.Allows(RoleAdmin))
	require.False(t, RoleNone.Allows(RoleRead))
	require.True(t, RoleNone.Allows(RoleNone))
}

func TestMutating(t *testing.T) {
	require.True(t, Mutating(httptest.NewRequest("POST", "/api/v1/tasks", nil), ""))
	require.True(t, Mutating(httptest.NewRequest("POST", "/cdc", nil), "pause"))
	require.False(t, Mutating(httptest.NewRequest("POST", "/cdc", nil), "list"))
	require.False(t, Mutating(httptest.NewRequest("GET", "/api/v1/tasks", nil), ""))
}
