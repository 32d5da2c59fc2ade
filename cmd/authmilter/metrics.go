package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/authmilter/authmilter/config"
	"github.com/authmilter/authmilter/metrics"
	"github.com/authmilter/authmilter/milter"
	"github.com/authmilter/authmilter/resolver"
)

// Why /healthz answers 503.
var (
	errNotServing = errors.New("milter listener not serving")
	errNoConfig   = errors.New("no configuration loaded")
)

// metricsServer is the optional HTTP listener of [metrics]: /metrics and
// /healthz. A nil *metricsServer (the default, listen = "") does nothing,
// so serve.go calls its methods unconditionally.
type metricsServer struct {
	log  *zap.Logger
	m    *metrics.Daemon
	ln   net.Listener
	http *http.Server
	done chan struct{}
}

// listenMetrics opens [metrics] listen, or returns nil when it is not set.
// It runs before privileges are dropped, like the milter's own listen.
func listenMetrics(log *zap.Logger, cfg *config.Config) (*metricsServer, error) {
	if cfg.Metrics.Listen == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, err
	}
	return &metricsServer{log: log.Named("metrics"), m: metrics.NewDaemon(), ln: ln, done: make(chan struct{})}, nil
}

// observer is what milter.Options.Observer gets: nil without metrics (an
// untyped nil, so that the milter sees no observer at all).
func (ms *metricsServer) observer() milter.Observer {
	if ms == nil {
		return nil
	}
	return ms.m
}

// start serves /metrics and /healthz for srv, with DNS statistics from res.
func (ms *metricsServer) start(srv *milter.Server, res *resolver.Stub) {
	if ms == nil {
		return
	}
	ms.m.SetConnections(srv.ActiveConnections)
	ms.m.SetResolver(res)
	ready := func() error {
		if !srv.Serving() {
			return errNotServing
		}
		if srv.Engine() == nil {
			return errNoConfig
		}
		return nil
	}
	ms.http = &http.Server{
		Handler: metrics.Handler(ms.m.Registry(), ready),
		// A scraper sends a short request; a client that dribbles its
		// header must not hold a goroutine (slowloris).
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(ms.log),
	}
	go func() {
		defer close(ms.done)
		if err := ms.http.Serve(ms.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			// The milter goes on: metrics are not worth refusing mail.
			ms.log.Error("metrics listener failed", zap.Error(err))
		}
	}()
	ms.log.Info("metrics listening", zap.String("listen", ms.ln.Addr().String()))
}

// reloaded counts a SIGHUP reload: res is the new resolver, nil when the
// reload failed.
func (ms *metricsServer) reloaded(res *resolver.Stub) {
	if ms == nil {
		return
	}
	ms.m.Reload(res != nil)
	if res != nil {
		ms.m.SetResolver(res)
	}
}

// close stops the listener, letting a scrape in progress finish briefly.
// It runs after the milter's shutdown, so /healthz answers 503 while
// messages in flight drain.
func (ms *metricsServer) close() {
	if ms == nil {
		return
	}
	if ms.http == nil {
		ms.ln.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := ms.http.Shutdown(ctx); err != nil {
		ms.http.Close()
	}
	<-ms.done
}
