package server

import (
	"net/http"
	"time"

	"github.com/milvus-cdc/milvus-cdc/server/auth"
)

// Info describes the daemon for GET /api/v1/info (the status page's header):
// its build, the source it reads and how its API is secured. It holds no
// secret.
type Info struct {
	Version   string     `json:"version"`
	Revision  string     `json:"revision,omitempty"`
	GoVersion string     `json:"goVersion"`
	StartedAt time.Time  `json:"startedAt"`
	Source    SourceInfo `json:"source"`
	Security  Security   `json:"security"`
}

// SourceInfo is where the daemon reads the source Milvus.
type SourceInfo struct {
	EtcdEndpoints []string `json:"etcdEndpoints"`
	RootPath      string   `json:"rootPath"`
	MQType        string   `json:"mqType"`
	MQAddress     string   `json:"mqAddress"`
}

// Security is how the API and the stored secrets are protected.
type Security struct {
	AuthEnabled      bool `json:"authEnabled"`
	MetricsNeedToken bool `json:"metricsNeedToken"`
	TLS              bool `json:"tls"`
	MutualTLS        bool `json:"mutualTLS"`
	// SecretsEncrypted: task secrets in the task store are sealed with a key
	// file (metaStore.encryption.keyFile).
	SecretsEncrypted bool `json:"secretsEncrypted"`
}

// InfoResponse is the body of GET /api/v1/info: the daemon and the caller.
type InfoResponse struct {
	Info
	// Caller is who the request was authenticated as; role admin for
	// everyone when authentication is off.
	Caller Caller `json:"caller"`
}

// Caller is the identity of the request.
type Caller struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

func (s *Server) info(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	id := auth.FromContext(r.Context())
	return http.StatusOK, InfoResponse{Info: s.opts.Info, Caller: Caller{Name: id.Name, Role: string(id.Role)}}, nil
}
