// Package deployments holds no code. Its tests check the deployment files
// against the daemon they deploy: the Dockerfile and .dockerignore, the compose
// file, the Helm chart (helm lint and helm template) and the Prometheus alert
// rules (promtool test rules), with keys, ports and environment names taken
// from the config package.
package deployments
