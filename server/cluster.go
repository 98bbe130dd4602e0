package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/server/compat"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

// forwardedHeader marks a request one member handed to the task's owner;
// the owner serves it itself, so a request is forwarded at most once.
const forwardedHeader = "X-Milvus-Cdc-Forwarded-By"

// memberURL is a member's advertised address as a base URL (http unless the
// address names a scheme).
func memberURL(addr string) (*url.URL, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return url.Parse(addr)
}

// newForwardTransport bounds a forward to an owner that does not answer (a
// frozen or cut-off daemon, until its lease expires); tc is the client TLS
// toward members that serve https.
func newForwardTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute, // synced may wait for the pipeline
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       time.Minute,
	}
}

// forward hands a request about one task ({id}) to the member that owns it,
// with its headers (the bearer token included), when that is another member.
// A task nobody owns, or a request already forwarded, is served here: the
// state changes go through the task store, which fences them by owner.
func (s *Server) forward(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		owner, addr := s.ownerElsewhere(r, id)
		if addr == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.opts.Logger.Debug("forwarding a task request to its owner", zap.String("task_id", id), zap.String("owner", owner), zap.String("path", r.URL.Path))
		s.proxyTo(w, r, addr, fmt.Sprintf("the task %s is owned by member %s, which", id, owner), s.writeProblem)
	})
}

// forwardCompat does for /cdc what forward does for the REST routes: a
// request about one task (pause, resume, get, position, delete) goes to the
// task's owner, so that it acts on the running pipeline at once.
func (s *Server) forwardCompat(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Controller.Cluster() == nil || r.Method != http.MethodPost || r.Header.Get(forwardedHeader) != "" {
			next.ServeHTTP(w, r)
			return
		}
		peek := s.peekCompat(r) // puts the body back
		switch peek.requestType {
		case compat.TypePause, compat.TypeResume, compat.TypeGet, compat.TypePosition, compat.TypeDelete:
		default:
			next.ServeHTTP(w, r)
			return
		}
		owner, addr := s.ownerElsewhere(r, peek.taskID)
		if addr == "" {
			next.ServeHTTP(w, r)
			return
		}
		s.opts.Logger.Debug("forwarding a /cdc request to the task's owner", zap.String("task_id", peek.taskID), zap.String("owner", owner), zap.String("request_type", peek.requestType))
		s.proxyTo(w, r, addr, fmt.Sprintf("the task %s is owned by member %s, which", peek.taskID, owner), func(w http.ResponseWriter, _ *http.Request, err error) {
			e := task.AsError(err)
			writeJSON(w, http.StatusOK, "application/json", compat.Response{Code: task.Lookup(e.Code).CompatCode,
				Message: fmt.Sprintf("fail to handle the %s request, error: %s", peek.requestType, e.Message)})
		})
	})
}

// ownerElsewhere names the member that owns the task and its address when
// that is another member and the request was not forwarded already; addr is
// empty when the request is served here (no cluster, owned here, nobody
// owns it, or the owners cannot be read).
func (s *Server) ownerElsewhere(r *http.Request, id string) (owner, addr string) {
	cl := s.opts.Controller.Cluster()
	if cl == nil || id == "" || r.Header.Get(forwardedHeader) != "" || cl.Owns(id) {
		return "", "" // cl.Owns needs no store read: answers while etcd does not
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	owners, err := cl.Owners(ctx)
	owner = owners[id]
	if err != nil || owner == "" || owner == cl.ID() {
		return "", ""
	}
	members, err := s.clusterMembers(ctx, cl, owners)
	if err != nil {
		return "", ""
	}
	for _, m := range members {
		if m.ID == owner {
			return owner, m.Address
		}
	}
	return "", ""
}

// memberAction serves POST /api/v1/cluster/members/{id}/drain and
// …/undrain: this member acts on itself, another member's request is
// forwarded to it.
func (s *Server) memberAction(act func(*task.Controller, context.Context) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cl := s.opts.Controller.Cluster()
		id := mux.Vars(r)["id"]
		if cl == nil {
			s.writeProblem(w, r, task.Errorf(task.CodeUnsupported, "this daemon is not in a cluster (its task store is the embedded etcd)"))
			return
		}
		if id == cl.ID() || r.Header.Get(forwardedHeader) != "" {
			if id != cl.ID() {
				s.writeProblem(w, r, task.Errorf(task.CodeNotFound, "no cluster member %s here", id))
				return
			}
			ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
			defer cancel()
			if err := act(s.opts.Controller, ctx); err != nil {
				s.writeProblem(w, r, err)
				return
			}
			_, body, err := s.cluster(w, r)
			if err != nil {
				s.writeProblem(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, "application/json", body)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		ms, err := cl.Members(ctx)
		cancel()
		if err != nil {
			s.writeProblem(w, r, task.Errorf(task.CodeStoreUnavailable, "fail to read the cluster members: %v", err))
			return
		}
		for _, m := range ms {
			if m.ID == id {
				s.proxyTo(w, r, m.Address, fmt.Sprintf("member %s", id), s.writeProblem)
				return
			}
		}
		s.writeProblem(w, r, task.Errorf(task.CodeNotFound, "no cluster member %s", id))
	}
}

// proxyTo hands the request to the member at addr; fail writes the answer
// when that member cannot be reached.
func (s *Server) proxyTo(w http.ResponseWriter, r *http.Request, addr, what string, fail func(http.ResponseWriter, *http.Request, error)) {
	self := s.opts.Controller.Cluster().ID()
	target, err := memberURL(addr)
	if err != nil {
		fail(w, r, task.Errorf(task.CodeNotOwner, "%s advertises an address that is not a URL: %q", what, addr))
		return
	}
	proxy := &httputil.ReverseProxy{
		Transport: s.forwarder,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Set(forwardedHeader, self)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fail(w, r, task.Errorf(task.CodeNotOwner, "%s at %s does not answer: %v", what, addr, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// clusterMembers lists the members with the tasks each owns.
func (s *Server) clusterMembers(ctx context.Context, cl task.Cluster, owners map[string]string) ([]api.ClusterMember, error) {
	ms, err := cl.Members(ctx)
	if err != nil {
		return nil, err
	}
	ttl := cl.TTL()
	out := make([]api.ClusterMember, 0, len(ms))
	for _, m := range ms {
		cm := api.ClusterMember{ID: m.ID, Address: m.Address, StartedAt: m.StartedAt, LeaseRemainingSeconds: int(m.LeaseTTL / time.Second),
			Healthy: leaseHealthy(m.LeaseTTL, ttl), Draining: m.Draining, Tasks: []string{}}
		for t, o := range owners {
			if o == m.ID {
				cm.Tasks = append(cm.Tasks, t)
			}
		}
		sort.Strings(cm.Tasks)
		out = append(out, cm)
	}
	return out, nil
}

// leaseHealthy: the lease may still have more than a third of its TTL left.
// etcd reports the remaining TTL in whole seconds, cut down, so a lease
// reported at r seconds has up to r+1 left: judged on r alone, a member
// with a 3 s TTL that renews on time (every second) reads as unhealthy
// whenever it is read just before a renewal.
func leaseHealthy(remaining, ttl time.Duration) bool {
	return remaining > 0 && remaining+time.Second > ttl/3
}

// cluster serves GET /api/v1/cluster.
func (s *Server) cluster(_ http.ResponseWriter, r *http.Request) (int, any, error) {
	cl := s.opts.Controller.Cluster()
	if cl == nil {
		return http.StatusOK, api.Cluster{Enabled: false, Members: []api.ClusterMember{}, Unowned: []string{}}, nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	owners, err := cl.Owners(ctx)
	if err != nil {
		return 0, nil, task.Errorf(task.CodeStoreUnavailable, "fail to read the task owners: %v", err)
	}
	members, err := s.clusterMembers(ctx, cl, owners)
	if err != nil {
		return 0, nil, task.Errorf(task.CodeStoreUnavailable, "fail to read the cluster members: %v", err)
	}
	views, err := s.opts.Controller.List(ctx, "")
	if err != nil {
		return 0, nil, err
	}
	unowned := []string{}
	for _, v := range views {
		if owners[v.Spec.ID] == "" {
			unowned = append(unowned, v.Spec.ID)
		}
	}
	return http.StatusOK, api.Cluster{Enabled: true, Self: cl.ID(), LeaseTTLSeconds: int(cl.TTL() / time.Second), Members: members, Unowned: unowned}, nil
}

// ownershipLostCounter exports how many pipelines this daemon stopped
// because it no longer owned their task.
func ownershipLostCounter(ctl *task.Controller) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "cluster", Name: "ownership_lost_total",
		Help: "Pipelines this daemon stopped because another member owns their task now (lease lost, fenced write).",
	}, func() float64 { return float64(ctl.OwnershipLost()) })
}

// handoversCounter exports how many tasks this member handed over to even
// out the members' tasks.
func handoversCounter(ctl *task.Controller) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: "cluster", Name: "handovers_total",
		Help: "Tasks this member handed over (stop, checkpoint, release) because it owned at least two more than another member.",
	}, func() float64 { return float64(ctl.Handovers()) })
}
