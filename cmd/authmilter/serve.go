package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/authmilter/authmilter/config"
	"github.com/authmilter/authmilter/milter"
)

// cmdServe runs the daemon until SIGTERM or SIGINT. SIGHUP reloads the
// configuration file; a bad new configuration is logged and the old one
// keeps running.
func cmdServe(args []string, _ io.Reader, _, stderr io.Writer) int {
	fs := flagSet("serve", stderr)
	path := fs.String("c", "", "configuration `FILE` (default: built-in defaults)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter serve [-c FILE]")
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		printConfigError(stderr, err)
		return 1
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter:", err)
		return 1
	}
	defer log.Sync()
	// go-milter logs protocol errors through the standard log package.
	undo := zap.RedirectStdLog(log.Named("go-milter"))
	defer undo()

	res, err := newResolver(cfg)
	if err != nil {
		log.Error("cannot start the DNS resolver", zap.Error(err))
		return 1
	}
	eng, err := newEngine(cfg, res)
	if err != nil {
		log.Error("cannot build the policy engine", zap.Error(err))
		return 1
	}
	logKeys(log, cfg)
	ln, err := listen(cfg)
	if err != nil {
		log.Error("cannot listen", zap.String("listen", cfg.Listen), zap.Error(err))
		return 1
	}
	ms, err := listenMetrics(log, cfg)
	if err != nil {
		ln.Close()
		log.Error("cannot listen for metrics", zap.String("listen", cfg.Metrics.Listen), zap.Error(err))
		return 1
	}
	defer ms.close() // after the milter's shutdown: /healthz says 503 while it drains
	if err := dropPrivileges(log, cfg); err != nil {
		ln.Close()
		log.Error("cannot switch user", zap.Error(err))
		return 1
	}
	srv := milter.New(eng, log, milter.Options{IOTimeout: cfg.Milter.IOTimeout.Duration, Observer: ms.observer()})

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	ms.start(srv, res)
	log.Info("authmilter started", zap.String("version", versionString()),
		zap.String("listen", cfg.Listen), zap.String("authserv_id", cfg.AuthservID),
		zap.String("config", cfg.Source))

	for {
		select {
		case err := <-served:
			if err != nil {
				log.Error("listener failed", zap.Error(err))
				return 1
			}
			return 0
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				cfg = reload(log, srv, *path, cfg, ms)
				continue
			}
			log.Info("shutting down", zap.String("signal", sig.String()),
				zap.Duration("timeout", cfg.Milter.ShutdownTimeout.Duration))
			ctx, cancel := context.WithTimeout(context.Background(), cfg.Milter.ShutdownTimeout.Duration)
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				return 1
			}
			log.Info("stopped")
			return 0
		}
	}
}

// reload re-reads the configuration and swaps in a new engine. Connections
// stay open, and messages in flight finish with the old engine. Settings
// that belong to the listening socket or the logger need a restart; the
// log line says so.
func reload(log *zap.Logger, srv *milter.Server, path string, old *config.Config, ms *metricsServer) *config.Config {
	if path == "" {
		log.Info("reload: running on built-in defaults, nothing to reload")
		return old
	}
	cfg, err := config.Load(path)
	if err != nil {
		log.Error("reload failed; keeping the running configuration", zap.Error(err))
		ms.reloaded(nil)
		return old
	}
	res, err := newResolver(cfg)
	if err != nil {
		log.Error("reload failed; keeping the running configuration", zap.Error(err))
		ms.reloaded(nil)
		return old
	}
	eng, err := newEngine(cfg, res)
	if err != nil {
		log.Error("reload failed; keeping the running configuration", zap.Error(err))
		ms.reloaded(nil)
		return old
	}
	srv.SetEngine(eng)
	ms.reloaded(res)
	logKeys(log, cfg)
	if cfg.Metrics != old.Metrics {
		log.Warn("reload: [metrics] changes take effect at the next restart")
		cfg.Metrics = old.Metrics
	}
	if cfg.Listen != old.Listen || cfg.SocketMode != old.SocketMode || cfg.Log != old.Log || cfg.Milter != old.Milter {
		log.Warn("reload: listen, socket_mode, [log] and [milter] changes take effect at the next restart")
		cfg.Listen, cfg.SocketMode, cfg.Log, cfg.Milter = old.Listen, old.SocketMode, old.Log, old.Milter
	}
	if cfg.User != old.User || cfg.Group != old.Group || cfg.SocketGroup != old.SocketGroup {
		log.Warn("reload: user, group and socket_group changes take effect at the next restart")
		cfg.User, cfg.Group, cfg.SocketGroup = old.User, old.Group, old.SocketGroup
	}
	log.Info("configuration reloaded", zap.String("config", path))
	return cfg
}

// listen opens the milter socket. For a unix socket, a stale socket file
// left by a crash is removed, but one that a running process still answers
// on is not: that is a second daemon, and an error.
func listen(cfg *config.Config) (net.Listener, error) {
	network, addr := cfg.ListenAddr()
	if network != "unix" {
		return net.Listen(network, addr)
	}
	if fi, err := os.Lstat(addr); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", addr)
		}
		if c, err := net.DialTimeout("unix", addr, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use by another process (is authmilter already running?); stop it, or set listen to another path", addr)
		}
		if err := os.Remove(addr); err != nil {
			return nil, fmt.Errorf("removing stale socket %s (left by a crash): %w", addr, err)
		}
	}
	ln, err := net.Listen("unix", addr)
	if err != nil {
		return nil, socketListenError(addr, err)
	}
	// Go's unix listener removes the file on Close; keep that.
	if err := os.Chmod(addr, cfg.SocketMode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("socket_mode: %w", err)
	}
	if err := setSocketGroup(addr, cfg); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// logKeys names the signing keys in use, and warns about weak ones (RSA
// under 2048 bits: RFC 8301 §3.2 allows 1024, but recommends 2048).
func logKeys(log *zap.Logger, cfg *config.Config) {
	for _, k := range cfg.KeySet().Keys() {
		f := []zap.Field{zap.String("key", k.Name), zap.String("domain", k.Domain),
			zap.String("selector", k.Selector), zap.String("algorithm", k.Algorithm), zap.Int("bits", k.Bits)}
		if k.Weak() {
			log.Warn("weak signing key: use RSA 2048 bits or more, or Ed25519 beside it", f...)
			continue
		}
		log.Info("signing key loaded", f...)
	}
}
