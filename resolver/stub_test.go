package resolver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/authmilter/authmilter/resolver"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

// clock is an injectable time source for cache-expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func serve(t *testing.T, zone *resolver.Fake, opts ...dnstest.Option) *dnstest.Server {
	t.Helper()
	srv, err := dnstest.Serve(zone, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return srv
}

func newStub(t *testing.T, cfg resolver.StubConfig) *resolver.Stub {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	s, err := resolver.NewStub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// stubFor serves zone and returns a Stub using it, with a cache and clock.
func stubFor(t *testing.T, zone *resolver.Fake, opts ...dnstest.Option) (*resolver.Stub, *dnstest.Server, *clock) {
	t.Helper()
	srv := serve(t, zone, opts...)
	c := newClock()
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}, CacheSize: 100, Now: c.Now})
	return s, srv, c
}

// serveRaw runs a UDP server on loopback that hands each parsed query to
// handle and sends back whatever datagrams it returns, for tests that need
// misbehaving servers. Each query is handled in its own goroutine.
func serveRaw(t *testing.T, handle func(q *dns.Msg) [][]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 65535)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, out := range handle(q) {
					_, _ = pc.WriteTo(out, addr)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return pc.LocalAddr().String()
}

// reply builds the packed answer to q after edit; RA is set like a
// recursive resolver's.
func reply(t *testing.T, q *dns.Msg, edit func(m *dns.Msg)) []byte {
	m := new(dns.Msg)
	m.SetReply(q)
	m.RecursionAvailable = true
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Error(err)
	}
	return b
}

func txtRR(name string, ttl uint32, parts ...string) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: parts}
}

func wantDNSError(t *testing.T, err error, sentinel error, notFound, temporary, timeout bool) {
	t.Helper()
	var de *net.DNSError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want *net.DNSError", err, err)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("err = %v, want errors.Is %v", err, sentinel)
	}
	if de.IsNotFound != notFound || de.IsTemporary != temporary || de.IsTimeout != timeout {
		t.Errorf("err = %v: IsNotFound=%v IsTemporary=%v IsTimeout=%v, want %v %v %v",
			err, de.IsNotFound, de.IsTemporary, de.IsTimeout, notFound, temporary, timeout)
	}
	if resolver.IsNotFound(err) != notFound || resolver.IsTemporary(err) != (temporary || timeout) {
		t.Errorf("IsNotFound/IsTemporary disagree with the flags for %v", err)
	}
}

func TestStubLookupTXT(t *testing.T) {
	t.Parallel()
	long300 := strings.Repeat("a", 200) + strings.Repeat("b", 100)
	big := "v=DKIM1; k=rsa; p=" + strings.Repeat("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A", 40) // 1298 bytes
	tests := []struct {
		name    string
		records []string
		wantTCP bool
	}{
		{"single", []string{"v=spf1 -all"}, false},
		{"two records", []string{"v=spf1 a -all", "google-site-verification=x"}, false},
		{"empty string", []string{""}, false},
		{"multi-string record", []string{long300}, false},
		{"special octets", []string{"q\"uote\\back;semi \x00\x7f\xc3\xa9 end"}, false},
		{"over 1232 bytes via TCP", []string{big}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zone := resolver.NewFake()
			zone.AddTXT("Example.COM", tc.records...)
			s, srv, _ := stubFor(t, zone)
			got, err := s.LookupTXT(context.Background(), "example.com.")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.records) {
				t.Errorf("got %q, want %q", got, tc.records)
			}
			_, tcp := srv.Queries()
			if st := s.Stats(); (st.Truncated > 0) != tc.wantTCP || (tcp > 0) != tc.wantTCP {
				t.Errorf("Truncated=%d, TCP queries=%d, want TCP=%v", st.Truncated, tcp, tc.wantTCP)
			}
		})
	}
}

func TestStubLookupIP(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddA("both.example", "192.0.2.1", "2001:db8::1", "192.0.2.2")
	zone.AddA("v4only.example", "192.0.2.3")
	s, _, _ := stubFor(t, zone)
	tests := []struct {
		network, host string
		want          []string
		wantErr       error
	}{
		{"ip4", "both.example", []string{"192.0.2.1", "192.0.2.2"}, nil},
		{"ip6", "both.example", []string{"2001:db8::1"}, nil},
		{"ip", "both.example", []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}, nil},
		{"ip6", "v4only.example", nil, resolver.ErrNoData},
		{"ip", "v4only.example", []string{"192.0.2.3"}, nil},
		{"ip4", "missing.example", nil, resolver.ErrNXDomain},
		{"ip", "missing.example", nil, resolver.ErrNXDomain},
		{"ip4", "192.0.2.9", []string{"192.0.2.9"}, nil},
		{"ip6", "192.0.2.9", nil, resolver.ErrNoData},
		{"tcp", "both.example", nil, resolver.ErrInvalidName},
	}
	for _, tc := range tests {
		t.Run(tc.network+" "+tc.host, func(t *testing.T) {
			t.Parallel()
			ips, err := s.LookupIP(context.Background(), tc.network, tc.host)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ip := range ips {
				got = append(got, ip.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStubLookupMX(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddMX("example.org", 20, "mx2.example.org")
	zone.AddMX("example.org", 10, "mx1.example.org.")
	zone.AddMX("null.example", 0, ".")
	s, _, _ := stubFor(t, zone)
	tests := []struct {
		name string
		want []net.MX
	}{
		{"example.org", []net.MX{{Host: "mx1.example.org.", Pref: 10}, {Host: "mx2.example.org.", Pref: 20}}},
		{"null.example", []net.MX{{Host: ".", Pref: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mxs, err := s.LookupMX(context.Background(), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []net.MX
			for _, mx := range mxs {
				got = append(got, *mx)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStubLookupAddr(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.PTR["192.0.2.1"] = []string{"mail.example.com"}
	zone.PTR[resolver.ReverseName(net.ParseIP("2001:db8::25"))] = []string{"mx6.example.com.", "alias.example.com"}
	s, _, _ := stubFor(t, zone)
	tests := []struct {
		addr    string
		want    []string
		wantErr error
	}{
		{"192.0.2.1", []string{"mail.example.com."}, nil},
		{"2001:db8::25", []string{"mx6.example.com.", "alias.example.com."}, nil},
		{"192.0.2.2", nil, resolver.ErrNXDomain},
		{"not-an-ip", nil, resolver.ErrInvalidName},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			got, err := s.LookupAddr(context.Background(), tc.addr)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				var de *net.DNSError
				if errors.As(err, &de) && de.Name != tc.addr {
					t.Errorf("error name %q, want %q", de.Name, tc.addr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStubCNAMEChain(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.CNAME["sel._domainkey.example.com"] = "sel.keys.example.net"
	zone.CNAME["sel.keys.example.net"] = "final.example.org."
	zone.AddTXT("final.example.org", "v=DKIM1; p=abc")
	zone.CNAME["dangling.example.com"] = "nothing.example.org"
	zone.CNAME["nodata.example.com"] = "final.example.org"
	for i := range 12 {
		zone.CNAME["loop"+string(rune('a'+i))+".example"] = "loop" + string(rune('a'+i+1)) + ".example"
	}
	s, srv, clk := stubFor(t, zone)
	srv.SetTTL("sel.keys.example.net", 30)

	got, err := s.LookupTXT(context.Background(), "sel._domainkey.example.com")
	if err != nil || !slices.Equal(got, []string{"v=DKIM1; p=abc"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	t.Run("TTL is the chain minimum", func(t *testing.T) {
		clk.Advance(31 * time.Second)
		before := s.Stats().Queries
		if _, err := s.LookupTXT(context.Background(), "sel._domainkey.example.com"); err != nil {
			t.Fatal(err)
		}
		if s.Stats().Queries == before {
			t.Error("answer outlived the 30s TTL of a CNAME in its chain")
		}
	})
	t.Run("NXDOMAIN at the end", func(t *testing.T) {
		_, err := s.LookupTXT(context.Background(), "dangling.example.com")
		wantDNSError(t, err, resolver.ErrNXDomain, true, false, false)
	})
	t.Run("NODATA at the end", func(t *testing.T) {
		_, err := s.LookupMX(context.Background(), "nodata.example.com")
		wantDNSError(t, err, resolver.ErrNoData, true, false, false)
	})
	t.Run("server-side loop", func(t *testing.T) {
		_, err := s.LookupTXT(context.Background(), "loopa.example")
		wantDNSError(t, err, resolver.ErrServFail, false, true, false)
	})
}

// TestStubCNAMEChainBound checks the stub's own bound on a long chain that
// a server sends in one answer.
func TestStubCNAMEChainBound(t *testing.T) {
	t.Parallel()
	chain := func(n int) func(q *dns.Msg) [][]byte {
		return func(q *dns.Msg) [][]byte {
			return [][]byte{reply(t, q, func(m *dns.Msg) {
				cur := q.Question[0].Name
				for i := range n {
					next := "c" + string(rune('a'+i)) + ".example."
					m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: cur, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: next})
					cur = next
				}
				m.Answer = append(m.Answer, txtRR(cur, 60, "end"))
			})}
		}
	}
	tests := []struct {
		hops    int
		wantErr bool
	}{{8, false}, {9, true}}
	for _, tc := range tests {
		t.Run(strings.Repeat("c", tc.hops), func(t *testing.T) {
			t.Parallel()
			s := newStub(t, resolver.StubConfig{Nameservers: []string{serveRaw(t, chain(tc.hops))}})
			got, err := s.LookupTXT(context.Background(), "start.example")
			if tc.wantErr {
				wantDNSError(t, err, resolver.ErrCNAMEChain, false, true, false)
				return
			}
			if err != nil || !slices.Equal(got, []string{"end"}) {
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
}

func TestStubErrors(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("exists.example", "x")
	zone.Fail["broken.example"] = true
	zone.Timeout["slow.example"] = true
	zone.TimeoutTypes["half.example"] = map[string]bool{"TXT": true}
	zone.AddA("half.example", "192.0.2.1")
	srv := serve(t, zone)
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}, Timeout: 100 * time.Millisecond, Attempts: 1, CacheSize: 10})
	tests := []struct {
		name, host, typ                string
		sentinel                       error
		notFound, temporary, isTimeout bool
	}{
		{"NXDOMAIN", "missing.example", "TXT", resolver.ErrNXDomain, true, false, false},
		{"NODATA", "exists.example", "MX", resolver.ErrNoData, true, false, false},
		{"SERVFAIL", "broken.example", "TXT", resolver.ErrServFail, false, true, false},
		{"timeout", "slow.example", "TXT", resolver.ErrTimeout, false, true, true},
		{"timeout of one type", "half.example", "TXT", resolver.ErrTimeout, false, true, true},
		{"invalid name", "a..b", "TXT", resolver.ErrInvalidName, false, false, false},
		{"label too long", strings.Repeat("x", 64) + ".example", "TXT", resolver.ErrInvalidName, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.typ == "MX" {
				_, err = s.LookupMX(context.Background(), tc.host)
			} else {
				_, err = s.LookupTXT(context.Background(), tc.host)
			}
			wantDNSError(t, err, tc.sentinel, tc.notFound, tc.temporary, tc.isTimeout)
		})
	}
	if ips, err := s.LookupIP(context.Background(), "ip4", "half.example"); err != nil || len(ips) != 1 {
		t.Errorf("A of half.example: %v, %v", ips, err)
	}
	st := s.Stats()
	if st.ServFails != 1 || st.Timeouts != 2 {
		t.Errorf("stats %+v: want 1 SERVFAIL, 2 timeouts", st)
	}
	// Failures are not cached: asking again reaches the server again.
	before := st.Queries
	_, _ = s.LookupTXT(context.Background(), "broken.example")
	if s.Stats().Queries == before {
		t.Error("SERVFAIL was answered from the cache")
	}
}

// Labels may hold any octet (RFC 2181 §11); SPF macros produce names with
// spaces and percent signs (the RFC 7208 suite's macro-mania-in-domain).
func TestStubOddOctetsInNames(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	odd := []string{"macro%percent  space%20url-space.example.com", "semi;colon(paren)\\back\"quote.example", "bin\x01\xff.example"}
	for i, n := range odd {
		zone.AddA(n, fmt.Sprintf("192.0.2.%d", i+1))
	}
	zone.AddMX("mx.example", 10, odd[0])
	srv := serve(t, zone)
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}, Timeout: time.Second, CacheSize: 10})
	for i, n := range odd {
		ips, err := s.LookupIP(context.Background(), "ip4", n)
		if err != nil || len(ips) != 1 || ips[0].String() != fmt.Sprintf("192.0.2.%d", i+1) {
			t.Errorf("%q: %v %v", n, ips, err)
		}
	}
	mx, err := s.LookupMX(context.Background(), "mx.example")
	if err != nil || len(mx) != 1 || strings.TrimSuffix(mx[0].Host, ".") != odd[0] {
		t.Errorf("MX: %v %v", mx, err)
	}
	if got := resolver.RawName(resolver.PresentationName(odd[1])); got != odd[1] {
		t.Errorf("round trip %q -> %q", odd[1], got)
	}
}

func TestStubContext(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.Timeout["slow.example"] = true
	srv := serve(t, zone)
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}, Timeout: 5 * time.Second})

	t.Run("canceled before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.LookupTXT(ctx, "slow.example")
		if !errors.Is(err, context.Canceled) || !resolver.IsTemporary(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("deadline while waiting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := s.LookupTXT(ctx, "slow.example")
		var de *net.DNSError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &de) || !de.IsTimeout || !de.IsTemporary {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStubCache(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("a.example", "one")
	zone.AddTXT("zero.example", "z")
	zone.AddTXT("long.example", "l")
	s, srv, clk := stubFor(t, zone, dnstest.WithNegativeTTL(30))
	srv.SetTTL("a.example", 100)
	srv.SetTTL("zero.example", 0)
	srv.SetTTL("long.example", 30*86400)
	ctx := context.Background()

	lookup := func(t *testing.T, name string, wantQuery bool) {
		t.Helper()
		before := s.Stats()
		_, err := s.LookupTXT(ctx, name)
		if err != nil && !resolver.IsNotFound(err) {
			t.Fatal(err)
		}
		after := s.Stats()
		queried := after.Queries > before.Queries
		if queried != wantQuery {
			t.Errorf("%s: queried=%v, want %v", name, queried, wantQuery)
		}
		if !queried && after.CacheHits != before.CacheHits+1 {
			t.Errorf("%s: CacheHits %d -> %d", name, before.CacheHits, after.CacheHits)
		}
	}
	// Subtests share one clock, so they run in order.
	t.Run("positive", func(t *testing.T) {
		lookup(t, "a.example", true)
		lookup(t, "A.EXAMPLE.", false)
		clk.Advance(99 * time.Second)
		lookup(t, "a.example", false)
		clk.Advance(2 * time.Second)
		lookup(t, "a.example", true)
		if n := zone.Queries("TXT", "a.example"); n != 2 {
			t.Errorf("server saw %d queries, want 2", n)
		}
	})
	t.Run("negative with SOA", func(t *testing.T) {
		lookup(t, "nx.example", true)
		clk.Advance(29 * time.Second)
		lookup(t, "nx.example", false)
		clk.Advance(2 * time.Second)
		lookup(t, "nx.example", true)
	})
	t.Run("TTL 0 not cached", func(t *testing.T) {
		lookup(t, "zero.example", true)
		lookup(t, "zero.example", true)
	})
	t.Run("positive TTL capped at a day", func(t *testing.T) {
		lookup(t, "long.example", true)
		clk.Advance(23 * time.Hour)
		lookup(t, "long.example", false)
		clk.Advance(time.Hour + time.Second)
		lookup(t, "long.example", true)
	})
}

func TestStubNegativeTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []dnstest.Option
		lifetime time.Duration
	}{
		{"SOA minimum", []dnstest.Option{dnstest.WithNegativeTTL(45)}, 45 * time.Second},
		{"capped at an hour", []dnstest.Option{dnstest.WithNegativeTTL(86400)}, time.Hour},
		{"no SOA", []dnstest.Option{dnstest.WithoutSOA()}, 60 * time.Second},
		{"SOA minimum 0", []dnstest.Option{dnstest.WithNegativeTTL(0)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			zone := resolver.NewFake()
			zone.AddA("host.example", "192.0.2.1")
			s, _, clk := stubFor(t, zone, tc.opts...)
			for _, name := range []string{"host.example", "nx.example"} { // NODATA, NXDOMAIN
				n := func() int { return zone.Queries("TXT", name) }
				_, _ = s.LookupTXT(context.Background(), name)
				if tc.lifetime > 0 {
					clk.Advance(tc.lifetime - time.Second)
					_, _ = s.LookupTXT(context.Background(), name)
					if n() != 1 {
						t.Errorf("%s: %d queries before expiry, want 1", name, n())
					}
				}
				clk.Advance(time.Second)
				_, err := s.LookupTXT(context.Background(), name)
				if n() != 2 {
					t.Errorf("%s: %d queries after expiry, want 2", name, n())
				}
				if !resolver.IsNotFound(err) {
					t.Errorf("%s: err = %v", name, err)
				}
			}
		})
	}
}

func TestStubCacheDisabled(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("a.example", "one")
	srv := serve(t, zone)
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}})
	for range 3 {
		if _, err := s.LookupTXT(context.Background(), "a.example"); err != nil {
			t.Fatal(err)
		}
	}
	if n := zone.Queries("TXT", "a.example"); n != 3 {
		t.Errorf("%d queries, want 3", n)
	}
	if st := s.Stats(); st.CacheHits != 0 || st.CacheMisses != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestStubCacheEviction(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	for _, n := range []string{"a", "b", "c"} {
		zone.AddTXT(n+".example", n)
	}
	srv := serve(t, zone)
	s := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}, CacheSize: 2})
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.LookupTXT(context.Background(), n+".example"); err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.Evictions != 1 {
		t.Errorf("Evictions = %d, want 1", st.Evictions)
	}
	// c was just inserted and must still be there.
	before := s.Stats().Queries
	if _, err := s.LookupTXT(context.Background(), "c.example"); err != nil {
		t.Fatal(err)
	}
	if s.Stats().Queries != before {
		t.Error("newest entry was evicted")
	}
}

// gate is a UDP server that holds every query until release is closed, so
// that concurrent lookups provably overlap.
func gate(t *testing.T, answer string) (addr string, seen func() int, release func()) {
	var mu sync.Mutex
	n := 0
	ch := make(chan struct{})
	var once sync.Once
	addr = serveRaw(t, func(q *dns.Msg) [][]byte {
		mu.Lock()
		n++
		mu.Unlock()
		<-ch
		return [][]byte{reply(t, q, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, answer)) })}
	})
	release = func() { once.Do(func() { close(ch) }) }
	t.Cleanup(release) // before serveRaw's cleanup (LIFO)
	return addr, func() int { mu.Lock(); defer mu.Unlock(); return n }, release
}

func TestStubCoalescing(t *testing.T) {
	t.Parallel()
	addr, seen, release := gate(t, "shared")
	s := newStub(t, resolver.StubConfig{Nameservers: []string{addr}, CacheSize: 10, Timeout: 30 * time.Second})
	const callers = 20
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	results := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if i == 0 {
				ctx = leaderCtx
			}
			txt, err := s.LookupTXT(ctx, "hot.example")
			if err == nil && !slices.Equal(txt, []string{"shared"}) {
				err = errors.New("wrong answer " + strings.Join(txt, ","))
			}
			results[i] = err
		}()
	}
	// Wait until every caller has joined the flight, then cancel one of
	// them: the others must still get the answer.
	for s.Stats().CacheMisses < callers || seen() < 1 {
		time.Sleep(time.Millisecond)
	}
	cancelLeader()
	release()
	wg.Wait()
	for i, err := range results {
		if i == 0 {
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("caller 0: %v", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := seen(); n != 1 {
		t.Errorf("server saw %d queries, want 1", n)
	}
	if st := s.Stats(); st.Coalesced != callers-1 || st.Queries != 1 {
		t.Errorf("stats %+v, want %d coalesced and 1 query", st, callers-1)
	}
}

func TestStubAuthentic(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("signed.example", "v=DKIM1; p=x")
	zone.AddTXT("unsigned.example", "v=DKIM1; p=y")
	zone.Authentic["signed.example"] = true
	zone.CNAME["alias.example"] = "signed.example"
	s, srv, _ := stubFor(t, zone)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		want bool
	}{{"signed.example", true}, {"unsigned.example", false}, {"alias.example", true}} {
		t.Run(tc.name, func(t *testing.T) {
			_, ad, err := s.LookupTXTAuthentic(ctx, tc.name)
			if err != nil || ad != tc.want {
				t.Errorf("AD=%v err=%v, want AD=%v", ad, err, tc.want)
			}
		})
	}
	// AD is cached with the answer, and SetAD applies to new answers.
	srv.SetAD(true)
	s2 := newStub(t, resolver.StubConfig{Nameservers: []string{srv.Addr()}})
	if _, ad, err := s2.LookupTXTAuthentic(ctx, "unsigned.example"); err != nil || !ad {
		t.Errorf("with SetAD: AD=%v err=%v", ad, err)
	}
}

func TestStubFailover(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("a.example", "ok")
	good := serve(t, zone)

	// A port with nothing behind it: ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()
	silent := serveRaw(t, func(*dns.Msg) [][]byte { return nil })
	servfail := serveRaw(t, func(q *dns.Msg) [][]byte {
		return [][]byte{reply(t, q, func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure })}
	})
	refused := serveRaw(t, func(q *dns.Msg) [][]byte {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		m.Question = nil // header-only, as some servers send
		b, _ := m.Pack()
		return [][]byte{b}
	})
	tests := []struct {
		name  string
		first string
	}{
		{"closed port", closed},
		{"silent", silent},
		{"SERVFAIL", servfail},
		{"REFUSED", refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, resolver.StubConfig{Nameservers: []string{tc.first, good.Addr()}, Timeout: 200 * time.Millisecond})
			got, err := s.LookupTXT(context.Background(), "a.example")
			if err != nil || !slices.Equal(got, []string{"ok"}) {
				t.Errorf("got %q, %v", got, err)
			}
		})
	}
	t.Run("all fail", func(t *testing.T) {
		t.Parallel()
		s := newStub(t, resolver.StubConfig{Nameservers: []string{servfail, silent}, Timeout: 100 * time.Millisecond, Attempts: 2})
		_, err := s.LookupTXT(context.Background(), "a.example")
		// The SERVFAIL says more than the later timeout.
		wantDNSError(t, err, resolver.ErrServFail, false, true, false)
		if st := s.Stats(); st.Queries != 4 {
			t.Errorf("%d queries, want 2 rounds × 2 servers", st.Queries)
		}
	})
}

func TestStubSpoofing(t *testing.T) {
	t.Parallel()
	addr := serveRaw(t, func(q *dns.Msg) [][]byte {
		wrongID := q.Copy()
		wrongID.Id ^= 0x5555
		other := q.Copy()
		other.Question[0].Name = "evil.example."
		notResponse := reply(t, q, func(m *dns.Msg) {
			m.Response = false
			m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, "spoof-qr"))
		})
		garbage := reply(t, q, nil)[:14]
		return [][]byte{
			reply(t, wrongID, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, "spoof-id")) }),
			reply(t, other, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR("evil.example.", 60, "spoof-q")) }),
			notResponse,
			garbage,
			reply(t, q, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, "genuine")) }),
		}
	})
	s := newStub(t, resolver.StubConfig{Nameservers: []string{addr}})
	got, err := s.LookupTXT(context.Background(), "target.example")
	if err != nil || !slices.Equal(got, []string{"genuine"}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if st := s.Stats(); st.Mismatched != 3 {
		t.Errorf("Mismatched = %d, want 3", st.Mismatched)
	}
}

func TestStubMisbehavingServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		handle      func(t *testing.T, q *dns.Msg) [][]byte
		want        []string
		sentinel    error
		temporary   bool
		wantQueries uint64
	}{
		{
			name: "FORMERR to EDNS, answers without",
			handle: func(t *testing.T, q *dns.Msg) [][]byte {
				if q.IsEdns0() != nil {
					return [][]byte{reply(t, q, func(m *dns.Msg) { m.Rcode = dns.RcodeFormatError })}
				}
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, "old")) })}
			},
			want: []string{"old"}, wantQueries: 2,
		},
		{
			name: "FORMERR always",
			handle: func(t *testing.T, q *dns.Msg) [][]byte {
				return [][]byte{reply(t, q, func(m *dns.Msg) { m.Rcode = dns.RcodeFormatError })}
			},
			sentinel: resolver.ErrFormErr, wantQueries: 2,
		},
		{
			name: "only malformed replies",
			handle: func(t *testing.T, q *dns.Msg) [][]byte {
				b := reply(t, q, func(m *dns.Msg) { m.Answer = append(m.Answer, txtRR(q.Question[0].Name, 60, "x")) })
				return [][]byte{b[:len(b)-3]}
			},
			sentinel: resolver.ErrMalformed, wantQueries: 1,
		},
		{
			name: "lame referral",
			handle: func(t *testing.T, q *dns.Msg) [][]byte {
				return [][]byte{reply(t, q, func(m *dns.Msg) {
					m.RecursionAvailable = false
					m.Ns = append(m.Ns, &dns.NS{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 60}, Ns: "ns.example."})
				})}
			},
			sentinel: resolver.ErrLameReferral, temporary: true, wantQueries: 2,
		},
		{
			name: "answer RRs of another class ignored",
			handle: func(t *testing.T, q *dns.Msg) [][]byte {
				return [][]byte{reply(t, q, func(m *dns.Msg) {
					rr := txtRR(q.Question[0].Name, 60, "chaos")
					rr.Header().Class = dns.ClassCHAOS
					m.Answer = append(m.Answer, rr)
					m.Ns = append(m.Ns, &dns.SOA{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60}, Ns: "ns.", Mbox: "h.", Minttl: 60})
				})}
			},
			sentinel: resolver.ErrNoData, wantQueries: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := serveRaw(t, func(q *dns.Msg) [][]byte { return tc.handle(t, q) })
			s := newStub(t, resolver.StubConfig{Nameservers: []string{addr}, Timeout: 200 * time.Millisecond, Attempts: 2})
			got, err := s.LookupTXT(context.Background(), "q.example")
			if tc.sentinel == nil {
				if err != nil || !slices.Equal(got, tc.want) {
					t.Errorf("got %q, %v", got, err)
				}
			} else {
				wantDNSError(t, err, tc.sentinel, errors.Is(tc.sentinel, resolver.ErrNoData), tc.temporary, false)
			}
			if st := s.Stats(); st.Queries != tc.wantQueries {
				t.Errorf("%d queries, want %d", st.Queries, tc.wantQueries)
			}
		})
	}
}

func TestNewStubConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "# comment\nsearch example.com\nnameserver 127.0.0.1\nnameserver ::1 ; trailing\nnameserver bogus\noptions ndots:1\n")
	empty := write("empty", "search example.com\n")
	tests := []struct {
		name    string
		cfg     resolver.StubConfig
		wantErr bool
	}{
		{"explicit", resolver.StubConfig{Nameservers: []string{"127.0.0.1:5353", "[::1]:53", "192.0.2.53"}}, false},
		{"resolv.conf", resolver.StubConfig{ResolvConf: good}, false},
		{"resolv.conf without nameservers", resolver.StubConfig{ResolvConf: empty}, true},
		{"missing resolv.conf", resolver.StubConfig{ResolvConf: filepath.Join(dir, "nope")}, true},
		{"hostname", resolver.StubConfig{Nameservers: []string{"dns.example:53"}}, true},
		{"port 0", resolver.StubConfig{Nameservers: []string{"127.0.0.1:0"}}, true},
		{"negative timeout", resolver.StubConfig{Nameservers: []string{"127.0.0.1"}, Timeout: -1}, true},
		{"negative cache", resolver.StubConfig{Nameservers: []string{"127.0.0.1"}, CacheSize: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := resolver.NewStub(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, resolver.ErrConfig) {
				t.Errorf("err = %v, want ErrConfig", err)
			}
		})
	}
}

// TestStubConcurrent hammers one Stub from many goroutines (for -race).
func TestStubConcurrent(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	names := []string{"a.example", "b.example", "c.example", "d.example"}
	for _, n := range names {
		zone.AddTXT(n, "t-"+n)
		zone.AddA(n, "192.0.2.1", "2001:db8::1")
	}
	s, _, _ := stubFor(t, zone)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := names[(g+i)%len(names)]
				txt, err := s.LookupTXT(context.Background(), n)
				if err != nil || txt[0] != "t-"+n {
					t.Errorf("%s: %q %v", n, txt, err)
					return
				}
				txt[0] = "mutated" // must not leak into the cache
				ips, err := s.LookupIP(context.Background(), "ip", n)
				if err != nil || len(ips) != 2 {
					t.Errorf("%s: %v %v", n, ips, err)
					return
				}
				ips[0][0] = 0
			}
		}()
	}
	wg.Wait()
}

func BenchmarkCachedLookupTXT(b *testing.B) {
	zone := resolver.NewFake()
	zone.AddTXT("sel._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
	srv, err := dnstest.Serve(zone)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	s, err := resolver.NewStub(resolver.StubConfig{Nameservers: []string{srv.Addr()}, CacheSize: 1000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.LookupTXT(ctx, "sel._domainkey.example.com"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.LookupTXT(ctx, "sel._domainkey.example.com"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if n := zone.Queries("TXT", "sel._domainkey.example.com"); n != 1 {
		b.Errorf("%d queries reached the server", n)
	}
}
