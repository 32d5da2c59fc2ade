package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/down":
			http.Error(w, "milter listener stopped\nsecond line", http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	// A port nothing listens on: the server is closed before use.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderrHas string
	}{
		{"200 is healthy", []string{"-url", srv.URL + "/healthz"}, 0, "healthy\n", ""},
		{"503 is unhealthy", []string{"-url", srv.URL + "/down"}, 1, "",
			"unhealthy: 503 Service Unavailable: milter listener stopped second line"},
		{"404 is unhealthy", []string{"-url", srv.URL + "/nope"}, 1, "", "unhealthy: 404 Not Found"},
		{"a redirect is not followed", []string{"-url", srv.URL + "/moved"}, 1, "", "unhealthy: 302 Found"},
		{"nothing listening", []string{"-url", closedURL + "/healthz"}, 1, "", "unhealthy:"},
		{"not an http URL", []string{"-url", "127.0.0.1:9891/healthz"}, 2, "", "is not an http:// URL"},
		{"stray argument", []string{"now"}, 2, "", "usage: authmilter health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"health"}, tt.args...), nil, &stdout, &stderr)
			if code != tt.code || stdout.String() != tt.stdout || !strings.Contains(stderr.String(), tt.stderrHas) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, containing %q",
					code, stdout.String(), stderr.String(), tt.code, tt.stdout, tt.stderrHas)
			}
		})
	}
}

// health is listed in the usage text.
func TestHealthInUsage(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	run([]string{"help"}, nil, &stdout, &stdout)
	if !strings.Contains(stdout.String(), "health [-url URL]") {
		t.Errorf("health missing from usage:\n%s", stdout.String())
	}
}
