package resolver_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

func testFake() *resolver.Fake {
	f := resolver.NewFake()
	f.AddTXT("Example.com.", "v=spf1 -all", "other")
	f.AddA("example.com", "192.0.2.1", "2001:db8::1")
	f.AddMX("example.com", 10, "mx.example.com")
	f.CNAME["www.example.com"] = "example.com."
	f.CNAME["loop1.example"] = "loop2.example"
	f.CNAME["loop2.example"] = "loop1.example"
	f.Timeout["slow.example"] = true
	f.TimeoutTypes["example.net"] = map[string]bool{"TXT": true}
	f.AddA("example.net", "192.0.2.2")
	f.Fail["broken.example"] = true
	f.Authentic["example.com"] = true
	f.PTR["192.0.2.1"] = []string{"example.com."}
	f.PTR[resolver.ReverseName(net.ParseIP("2001:db8::1"))] = []string{"v6.example.com."}
	f.Timeout["192.0.2.99"] = true
	return f
}

func TestFakeLookups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type outcome struct {
		got                            []string
		notFound, temporary, isTimeout bool
	}
	run := func(vals []string, err error) outcome {
		var de *net.DNSError
		o := outcome{got: vals}
		if errors.As(err, &de) {
			o.notFound, o.temporary, o.isTimeout = de.IsNotFound, de.IsTemporary, de.IsTimeout
		} else if err != nil {
			o.got = []string{"unexpected error type " + err.Error()}
		}
		return o
	}
	f := testFake()
	txt := func(name string) outcome { v, err := f.LookupTXT(ctx, name); return run(v, err) }
	ip := func(network, name string) outcome {
		ips, err := f.LookupIP(ctx, network, name)
		var v []string
		for _, i := range ips {
			v = append(v, i.String())
		}
		return run(v, err)
	}
	mx := func(name string) outcome {
		mxs, err := f.LookupMX(ctx, name)
		var v []string
		for _, m := range mxs {
			v = append(v, m.Host)
		}
		return run(v, err)
	}
	ptr := func(addr string) outcome { v, err := f.LookupAddr(ctx, addr); return run(v, err) }
	tests := []struct {
		name string
		got  outcome
		want outcome
	}{
		{"TXT", txt("EXAMPLE.COM"), outcome{got: []string{"v=spf1 -all", "other"}}},
		{"TXT via CNAME", txt("www.example.com."), outcome{got: []string{"v=spf1 -all", "other"}}},
		{"TXT NXDOMAIN", txt("nx.example.com"), outcome{notFound: true}},
		{"TXT type-specific timeout", txt("example.net"), outcome{temporary: true, isTimeout: true}},
		{"MX NODATA", mx("example.net"), outcome{notFound: true}},
		{"MX", mx("example.com"), outcome{got: []string{"mx.example.com"}}},
		{"ip4", ip("ip4", "example.com"), outcome{got: []string{"192.0.2.1"}}},
		{"ip6", ip("ip6", "example.com"), outcome{got: []string{"2001:db8::1"}}},
		{"ip", ip("ip", "example.com"), outcome{got: []string{"192.0.2.1", "2001:db8::1"}}},
		{"ip6 NODATA", ip("ip6", "example.net"), outcome{notFound: true}},
		{"A of a type-specific timeout", ip("ip4", "example.net"), outcome{got: []string{"192.0.2.2"}}},
		{"timeout", txt("slow.example"), outcome{temporary: true, isTimeout: true}},
		{"SERVFAIL", txt("broken.example"), outcome{temporary: true}},
		{"CNAME loop", txt("loop1.example"), outcome{temporary: true}},
		{"PTR by literal", ptr("192.0.2.1"), outcome{got: []string{"example.com."}}},
		{"PTR by reverse name", ptr("2001:db8::1"), outcome{got: []string{"v6.example.com."}}},
		{"PTR missing", ptr("192.0.2.7"), outcome{notFound: true}},
		{"PTR timeout keyed by literal", ptr("192.0.2.99"), outcome{temporary: true, isTimeout: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got.got, tc.want.got) || tc.got.notFound != tc.want.notFound ||
				tc.got.temporary != tc.want.temporary || tc.got.isTimeout != tc.want.isTimeout {
				t.Errorf("got %+v, want %+v", tc.got, tc.want)
			}
		})
	}
}

func TestFakeAuthenticAndQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := testFake()
	for _, tc := range []struct {
		name string
		want bool
	}{{"example.com", true}, {"www.example.com", true}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ad, err := f.LookupTXTAuthentic(ctx, tc.name); err != nil || ad != tc.want {
				t.Errorf("AD=%v err=%v", ad, err)
			}
		})
	}
	_, _ = f.LookupTXT(ctx, "EXAMPLE.com.")
	_, _ = f.LookupAddr(ctx, "2001:db8::1")
	_, _ = f.LookupIP(ctx, "ip6", "example.com")
	f.CountQuery("SPF", "Example.COM.")
	for _, tc := range []struct {
		typ, name string
		want      int
	}{
		{"TXT", "example.com", 2}, {"TXT", "www.example.com", 1}, {"PTR", "2001:db8::1", 1},
		{"AAAA", "example.com.", 1}, {"SPF", "example.com", 1}, {"MX", "example.com", 0},
	} {
		if got := f.Queries(tc.typ, tc.name); got != tc.want {
			t.Errorf("Queries(%s, %s) = %d, want %d", tc.typ, tc.name, got, tc.want)
		}
	}
}

func TestFakeContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := testFake().LookupTXT(ctx, "example.com")
	if !errors.Is(err, context.Canceled) || !resolver.IsTemporary(err) {
		t.Errorf("err = %v", err)
	}
}

func TestFakeNode(t *testing.T) {
	t.Parallel()
	f := testFake()
	f.PTR["2001:DB8:0::2"] = []string{"odd-spelling.example."}
	f.Fail["192.0.2.1"] = true
	tests := []struct {
		name  string
		check func(n resolver.FakeNode) bool
	}{
		{"example.com.", func(n resolver.FakeNode) bool {
			return n.Exists && len(n.TXT) == 2 && len(n.A) == 1 && len(n.AAAA) == 1 && len(n.MX) == 1 && n.Authentic && !n.Fail
		}},
		{"www.example.com", func(n resolver.FakeNode) bool { return n.Exists && n.CNAME == "example.com." && len(n.TXT) == 0 }},
		{"nx.example", func(n resolver.FakeNode) bool { return !n.Exists }},
		{"example.net", func(n resolver.FakeNode) bool { return n.TimesOut("TXT") && !n.TimesOut("A") }},
		{"slow.example", func(n resolver.FakeNode) bool { return n.TimesOut("MX") }},
		{resolver.ReverseName(net.ParseIP("192.0.2.1")), func(n resolver.FakeNode) bool {
			return n.Exists && slices.Equal(n.PTR, []string{"example.com."}) && n.Fail
		}},
		{resolver.ReverseName(net.ParseIP("2001:db8::2")) + ".", func(n resolver.FakeNode) bool {
			return n.Exists && slices.Equal(n.PTR, []string{"odd-spelling.example."})
		}},
		{resolver.ReverseName(net.ParseIP("192.0.2.99")), func(n resolver.FakeNode) bool { return !n.Exists && n.Timeout }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if n := f.Node(tc.name); !tc.check(n) {
				t.Errorf("Node = %+v", n)
			}
		})
	}
	// Node returns copies.
	n := f.Node("example.com")
	n.TXT[0] = "changed"
	n.A[0][0] = 0
	if got := f.Node("example.com"); got.TXT[0] != "v=spf1 -all" || !got.A[0].Equal(net.ParseIP("192.0.2.1")) {
		t.Errorf("Node aliases the Fake's data: %+v", got)
	}
}
