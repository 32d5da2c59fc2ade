package metrics

import (
	"bytes"
	"net/http"
)

// ContentType is the text exposition format's media type.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves /metrics from reg and /healthz from ready, and 404 for
// every other path. ready returns nil when the daemon can take mail (the
// milter listener is serving and a configuration is loaded), or why not;
// /healthz then answers 503 with that reason, so a load balancer or
// systemd watchdog script stops sending MTAs here during a shutdown.
func Handler(reg *Registry, ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		// Rendered into memory first: a failure then is a 500, not a
		// truncated body the scraper would half-parse.
		var b bytes.Buffer
		if _, err := reg.WriteTo(&b); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := ready(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(err.Error() + "\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}
