package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// defaultHealthURL is /healthz on the default [metrics] listen address.
const defaultHealthURL = "http://127.0.0.1:9891/healthz"

// healthTimeout bounds the whole request: a health check that hangs is a
// failed one, and Docker's HEALTHCHECK kills the probe after its own
// timeout (30s by default) without a useful message.
const healthTimeout = 5 * time.Second

// cmdHealth asks a running daemon whether it is healthy, for Docker's
// HEALTHCHECK and similar probes (the scratch image has no curl or wget):
// exit status 0 if GET URL answers 200, 1 otherwise, with the reason on
// stderr.
func cmdHealth(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flagSet("health", stderr)
	target := fs.String("url", defaultHealthURL, "health endpoint `URL` ([metrics] listen plus /healthz)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: authmilter health [-url URL]")
		return 2
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "authmilter health: %q is not an http:// URL\n", *target)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter health:", err)
		return 2
	}
	// No proxy: the endpoint is local, and a proxy from the environment
	// would make the probe test the proxy.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "authmilter health: unhealthy:", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "authmilter health: unhealthy: %s: %s\n", resp.Status, trimBody(body))
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

// trimBody keeps a response body printable on one line.
func trimBody(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			out = append(out, ' ')
		case c >= 0x20 && c < 0x7f:
			out = append(out, c)
		}
	}
	return string(out)
}
