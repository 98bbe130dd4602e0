package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/server/task"
)

type openAPISpec struct {
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Enum []string `yaml:"enum"`
			} `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func loadSpec(t *testing.T) openAPISpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	require.NoError(t, err)
	var spec openAPISpec
	require.NoError(t, yaml.Unmarshal(raw, &spec))
	require.NotEmpty(t, spec.Paths)
	return spec
}

// routeTable walks the live router: path template -> methods. A route with no
// method matcher (/cdc) is described by its POST operation.
func routeTable(t *testing.T, r *mux.Router) map[string][]string {
	t.Helper()
	routes := map[string][]string{}
	require.NoError(t, r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			methods = []string{http.MethodPost}
		}
		for _, m := range methods {
			routes[path] = append(routes[path], strings.ToLower(m))
		}
		return nil
	}))
	return routes
}

// TestOpenAPIDescribesEveryRoute fails when a route exists that
// docs/openapi.yaml does not describe, or the spec describes one that does not exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	d := startDaemon(t)
	spec := loadSpec(t)
	routes := routeTable(t, d.srv.Router())
	require.NotEmpty(t, routes)
	for path, methods := range routes {
		ops, ok := spec.Paths[path]
		require.True(t, ok, "route %s is not in docs/openapi.yaml", path)
		for _, m := range methods {
			require.Contains(t, ops, m, "route %s %s is not in docs/openapi.yaml", strings.ToUpper(m), path)
		}
	}
	for path, ops := range spec.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			require.True(t, slices.Contains(routes[path], m), "docs/openapi.yaml describes %s %s, which the server does not route", strings.ToUpper(m), path)
		}
	}
}

// TestOpenAPIListsTheErrorCatalog keeps the documented codes equal to the catalog.
func TestOpenAPIListsTheErrorCatalog(t *testing.T) {
	spec := loadSpec(t)
	documented := spec.Components.Schemas["Problem"].Properties["code"].Enum
	var catalog []string
	for _, e := range task.Catalog {
		catalog = append(catalog, string(e.Code))
	}
	sort.Strings(documented)
	sort.Strings(catalog)
	require.Equal(t, catalog, documented)
}
