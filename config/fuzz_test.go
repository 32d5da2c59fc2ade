package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzParse checks that Parse never panics, that every error it reports is
// either whole-file (no line) or on a line that exists, and that what it
// accepts is valid by the same checks it applies. Seeds are in
// testdata/fuzz/FuzzParse/.
func FuzzParse(f *testing.F) {
	f.Add("")
	f.Add("listen = \"unix:/run/a.sock\"\nsocket_mode = \"0600\"\n[dns]\nnameservers = [\"::1\", \"127.0.0.1:53\"]\n")
	f.Add("[[log]]\nlevel = 1\n[verify]\nmax_signatures = 0\nx.y = { z = [1, {a = 'b'}] }\n")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := parse("f", strings.NewReader(src), testDefaults())
		if err != nil {
			if c != nil {
				t.Fatalf("config with error: %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			nlines := strings.Count(src, "\n") + 1
			for _, e := range errs {
				if e.Err == nil || e.File != "f" || e.Msg == "" {
					t.Errorf("incomplete error %+v", e)
				}
				if e.Line < 0 || e.Line > nlines {
					t.Errorf("error on line %d of %d: %v", e.Line, nlines, e)
				}
				if e.Line == 0 && !errors.Is(e, ErrRead) && !errors.Is(e, ErrSyntax) {
					t.Errorf("error without a line: %v", e)
				}
			}
			return
		}
		// Accepted: the values must pass the checks again.
		if n, a := c.ListenAddr(); n == "" || a == "" {
			t.Errorf("accepted listen %q", c.Listen)
		}
		if checkAuthservID(c.AuthservID) != nil {
			t.Errorf("accepted authserv_id %q", c.AuthservID)
		}
		for _, ns := range c.DNS.Nameservers {
			if norm, err := parseNameserver(ns); err != nil || norm != ns {
				t.Errorf("nameserver %q is not normalised: %q, %v", ns, norm, err)
			}
		}
		if c.SocketMode > 0o777 || c.DNS.Timeout.Duration <= 0 || c.Milter.IOTimeout.Duration <= 0 ||
			c.Verify.MaxSignatures < 1 || c.Verify.MinRSABits < 1024 || c.Verify.MaxHeaderBytes < 8192 {
			t.Errorf("accepted out-of-range values: %+v", c)
		}
	})
}

// FuzzKeyLines checks the line scanner alone: it never panics or loops,
// and on input the toml package accepts it knows every decoded path.
func FuzzKeyLines(f *testing.F) {
	f.Add("a = 1\n[t]\nb = [\n1,\n{c = 2}]\n[[u]]\nd = '''\nx'''\n")
	f.Fuzz(func(t *testing.T, src string) {
		lines := keyLines(src)
		var doc map[string]any
		if _, err := toml.Decode(src, &doc); err != nil {
			return
		}
		for _, p := range documentPaths("", doc) {
			if _, ok := lines[p]; !ok {
				t.Errorf("path %q has no line", p)
			}
		}
	})
}
