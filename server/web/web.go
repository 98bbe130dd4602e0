// Package web serves the daemon's status page: one self-contained HTML page
// (markup, script and style inline, no external assets) that polls the REST
// API and shows each task's state, lag, throughput and last error.
package web

import (
	_ "embed"
	"net/http"
)

//go:embed index.html
var page []byte

// contentSecurityPolicy lets the page talk only to the daemon that served it
// and load nothing from elsewhere; its script and style are inline.
const contentSecurityPolicy = "default-src 'none'; connect-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the status page.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(page) // the client went away; nothing to do
	})
}
