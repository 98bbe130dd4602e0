package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
)

// Keys returns every leaf key of the configuration (e.g. "source.etcd.rootPath"),
// sorted, with its default value. Deployment files are checked against it, so
// that they name only keys the daemon knows.
func Keys() map[string]any {
	m := map[string]any{}
	if err := mapstructure.Decode(Default(), &m); err != nil {
		panic(fmt.Sprintf("config: cannot flatten defaults: %v", err)) // programming error only
	}
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok {
				walk(key, sub)
				continue
			}
			out[key] = v
		}
	}
	walk("", m)
	return out
}

// SortedKeys is Keys' key set in order.
func SortedKeys() []string {
	keys := make([]string, 0, len(Keys()))
	for k := range Keys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// EnvName is the environment variable overriding key, e.g.
// MILVUS_CDC_SOURCE_ETCD_ROOTPATH for source.etcd.rootPath.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// KeyOfEnv returns the key an environment variable overrides, if any.
func KeyOfEnv(name string) (string, bool) {
	for k := range Keys() {
		if EnvName(k) == name {
			return k, true
		}
	}
	return "", false
}
