package deployments

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/milvus-cdc/milvus-cdc/config"
)

const chartDir = "helm/milvus-cdc"

// rendered is the output of helm template, by kind.
type rendered map[string][]map[string]any

// helmTemplate renders the chart with --set values; a failure returns the
// error output.
func helmTemplate(t *testing.T, helm string, set ...string) (rendered, error) {
	t.Helper()
	args := []string{"template", "cdc", chartDir}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(helm, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New(stderr.String())
	}
	docs := rendered{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if doc == nil {
			continue
		}
		kind, _ := doc["kind"].(string)
		docs[kind] = append(docs[kind], doc)
	}
	return docs, nil
}

// at walks a decoded YAML document: keys of maps, indexes of lists.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "not a map at %v", p)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok && k < len(l), "no item %d", k)
			v = l[k]
		}
	}
	return v
}

func container(t *testing.T, docs rendered) map[string]any {
	t.Helper()
	require.Len(t, docs["Deployment"], 1)
	return at(t, docs["Deployment"][0], "spec", "template", "spec", "containers", 0).(map[string]any)
}

func envOf(t *testing.T, c map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		v, _ := m["value"].(string) // "" for valueFrom
		out[m["name"].(string)] = v
	}
	return out
}

func TestHelmLint(t *testing.T) {
	helm := tool(t, "helm", helmInstall)
	out, err := exec.Command(helm, "lint", chartDir, "--set", "serviceMonitor.enabled=true,prometheusRule.enabled=true").CombinedOutput()
	require.NoError(t, err, "helm lint:\n%s", out)
	require.Contains(t, string(out), "0 chart(s) failed")
}

// TestHelmTemplateDefaults renders the default values: the ConfigMap is a
// configuration the daemon loads, the Deployment's ports, probes, volumes
// and env match it.
func TestHelmTemplateDefaults(t *testing.T) {
	helm := tool(t, "helm", helmInstall)
	docs, err := helmTemplate(t, helm, "serviceMonitor.enabled=true", "prometheusRule.enabled=true")
	require.NoError(t, err)
	for _, kind := range []string{"ConfigMap", "Deployment", "Service", "ServiceMonitor", "PrometheusRule", "PersistentVolumeClaim"} {
		require.Len(t, docs[kind], 1, "one %s", kind)
	}
	require.Empty(t, docs["Secret"], "no secret without values for one")

	// The ConfigMap's cdc.yaml names only keys the config package knows and
	// loads as the daemon would load it.
	cdcYAML := at(t, docs["ConfigMap"][0], "data", "cdc.yaml").(string)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(cdcYAML), &doc))
	known := config.Keys()
	for _, key := range flatten("", doc) {
		_, ok := known[key]
		require.True(t, ok, "values.yaml config.%s is not a configuration key", key)
	}
	file := filepath.Join(t.TempDir(), "cdc.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cdcYAML), 0o600))
	cfg, err := config.Load(file)
	require.NoError(t, err, "the rendered cdc.yaml must load")
	require.True(t, cfg.MetaStore.Embedded())

	c := container(t, docs)
	_, port, _ := strings.Cut(cfg.Address, ":")
	require.Equal(t, port, itoa(at(t, c, "ports", 0, "containerPort")), "containerPort = config address port")
	require.Equal(t, "http", at(t, c, "ports", 0, "name"))
	require.Equal(t, []any{"--config", "/etc/milvus-cdc/cdc.yaml"}, c["args"])
	require.Equal(t, "/readyz", at(t, c, "readinessProbe", "httpGet", "path"))
	require.Equal(t, "/healthz", at(t, c, "livenessProbe", "httpGet", "path"))
	env := envOf(t, c)
	for name := range env {
		requireConfigEnv(t, "helm Deployment", name)
	}
	require.NotContains(t, env, config.EnvName("cluster.advertiseAddress"), "one daemon on the embedded etcd is no cluster member")
	require.Empty(t, docs["PodDisruptionBudget"], "no budget for one replica")
	// The embedded etcd writes inside the data volume, which is the PVC.
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mounts[mm["name"].(string)] = mm["mountPath"].(string)
	}
	require.True(t, strings.HasPrefix(cfg.MetaStore.Embed.DataDir, mounts["data"]+"/"), "dataDir %s outside the data volume %s", cfg.MetaStore.Embed.DataDir, mounts["data"])
	spec := at(t, docs["Deployment"][0], "spec").(map[string]any)
	require.Equal(t, "Recreate", at(t, spec, "strategy", "type"), "one daemon on the embedded etcd's volume at a time")
	require.Equal(t, true, at(t, spec, "template", "spec", "securityContext", "runAsNonRoot"))
	require.Equal(t, true, at(t, c, "securityContext", "readOnlyRootFilesystem"))

	// Service, ServiceMonitor and the alerts agree on names.
	require.Equal(t, "http", at(t, docs["Service"][0], "spec", "ports", 0, "targetPort"))
	require.Equal(t, itoa(at(t, docs["Service"][0], "spec", "ports", 0, "port")), port)
	sm := docs["ServiceMonitor"][0]
	require.Equal(t, "http", at(t, sm, "spec", "endpoints", 0, "port"))
	require.Equal(t, "/metrics", at(t, sm, "spec", "endpoints", 0, "path"))
	jobLabel := at(t, sm, "spec", "jobLabel").(string)
	require.Equal(t, "milvus-cdc", at(t, docs["Service"][0], "metadata", "labels", jobLabel), "the alerts match job=\"milvus-cdc\"")

	// The PrometheusRule carries exactly deployments/prometheus/alerts.yml.
	raw, err := os.ReadFile(filepath.Join("prometheus", "alerts.yml"))
	require.NoError(t, err)
	var alerts map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &alerts))
	require.Equal(t, alerts["groups"], at(t, docs["PrometheusRule"][0], "spec", "groups"))
}

func TestHelmTemplateSecretsTLSAndReplicas(t *testing.T) {
	helm := tool(t, "helm", helmInstall)
	docs, err := helmTemplate(t, helm,
		"replicaCount=3",
		"config.metaStore.etcd.endpoints={http://etcd-0:2379,http://etcd-1:2379}",
		"auth.tokens={ops:admin:0123456789abcdef0123,grafana:read:abcdef0123456789abcd}",
		"encryption.existingSecret=cdc-key",
		"tls.existingSecret=cdc-tls",
		"taskSecrets.existingSecret=cdc-targets",
		"extraEnv[0].name=CDC_TARGET_DR", "extraEnv[0].value=x",
	)
	require.NoError(t, err)
	require.EqualValues(t, 3, at(t, docs["Deployment"][0], "spec", "replicas"))
	require.Nil(t, at(t, docs["Deployment"][0], "spec", "strategy"), "a rolling update with an external etcd")
	require.Empty(t, docs["PersistentVolumeClaim"], "no volume for an external etcd")
	require.Len(t, docs["Secret"], 1, "the tokens; the key and the certificate are existing Secrets")
	tokens := at(t, docs["Secret"][0], "stringData", "tokens").(string)
	require.Contains(t, tokens, "ops:admin:0123456789abcdef0123\n")

	c := container(t, docs)
	env := envOf(t, c)
	for name := range env {
		if strings.HasPrefix(name, config.DefaultTaskSecretsEnvPrefix) || name == "POD_IP" || name == "POD_NAME" {
			continue // extraEnv for target.tokenEnv; the downward API for the cluster settings
		}
		requireConfigEnv(t, "helm Deployment", name)
	}
	// Each replica is a cluster member reachable at its pod IP, over TLS here.
	require.Equal(t, "https://$(POD_IP):8444", env[config.EnvName("cluster.advertiseAddress")])
	require.Equal(t, "$(POD_NAME)", env[config.EnvName("cluster.memberID")])
	require.Len(t, docs["PodDisruptionBudget"], 1)
	require.EqualValues(t, 1, at(t, docs["PodDisruptionBudget"][0], "spec", "maxUnavailable"))
	require.Equal(t, "/etc/milvus-cdc/auth/tokens", env[config.EnvName("server.auth.tokensFile")])
	require.Equal(t, "/etc/milvus-cdc/encryption/cdc.key", env[config.EnvName("metaStore.encryption.keyFile")])
	require.Equal(t, "/etc/milvus-cdc/tls/tls.crt", env[config.EnvName("server.tls.certFile")])
	require.Equal(t, "/etc/milvus-cdc/task-secrets", env[config.EnvName("taskSecrets.dir")])
	require.Equal(t, "HTTPS", at(t, c, "readinessProbe", "httpGet", "scheme"))

	// Every file the env points at is inside a mounted Secret volume.
	mounts := map[string]string{}
	for _, m := range c["volumeMounts"].([]any) {
		mm := m.(map[string]any)
		mounts[mm["mountPath"].(string)] = mm["name"].(string)
	}
	for _, key := range []string{"server.auth.tokensFile", "metaStore.encryption.keyFile", "server.tls.certFile", "server.tls.keyFile"} {
		p := env[config.EnvName(key)]
		require.Contains(t, mounts, filepath.Dir(p), "%s=%s is not in a mounted volume", key, p)
	}

	// Rendered with the same values, the ConfigMap still loads.
	cdcYAML := at(t, docs["ConfigMap"][0], "data", "cdc.yaml").(string)
	file := filepath.Join(t.TempDir(), "cdc.yaml")
	require.NoError(t, os.WriteFile(file, []byte(cdcYAML), 0o600))
	cfg, err := config.Load(file)
	require.NoError(t, err)
	require.Equal(t, []string{"http://etcd-0:2379", "http://etcd-1:2379"}, cfg.MetaStore.Etcd.Endpoints)
}

func TestHelmTemplateRefusesWhatCannotWork(t *testing.T) {
	helm := tool(t, "helm", helmInstall)
	tests := []struct {
		name string
		set  []string
		want string
	}{
		{"replicas on the embedded etcd", []string{"replicaCount=2"}, "replicaCount > 1 needs an external etcd"},
		{"mutual TLS without a certificate", []string{"tls.clientCA=true"}, "tls.clientCA needs tls.existingSecret"},
		{"protected metrics without a scrape token", []string{"serviceMonitor.enabled=true", "auth.metricsNeedToken=true"}, "serviceMonitor.tokenSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := helmTemplate(t, helm, tt.set...)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func flatten(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out = append(out, flatten(prefix+k+".", sub)...)
			continue
		}
		out = append(out, prefix+k)
	}
	return out
}

func itoa(v any) string {
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}
