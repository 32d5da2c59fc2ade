package dnstest

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/authmilter/authmilter/resolver"
)

func start(t *testing.T, zone *resolver.Fake, opts ...Option) *Server {
	t.Helper()
	s, err := Serve(zone, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// ask sends one query; edns 0 means no OPT record (a plain 512-byte client).
func ask(t *testing.T, s *Server, network, name string, qtype uint16, edns uint16, ad bool) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.AuthenticatedData = ad
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &dns.Client{Net: network, Timeout: 300 * time.Millisecond, UDPSize: max(edns, 512)}
	r, _, err := c.Exchange(m, s.Addr())
	return r, err
}

func TestServeAddr(t *testing.T) {
	t.Parallel()
	s := start(t, resolver.NewFake())
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("Addr() = %q", s.Addr())
	}
}

func TestServeAnswers(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("txt.example", "v=spf1 -all", "two")
	zone.AddA("host.example", "192.0.2.1", "2001:db8::1")
	zone.AddMX("host.example", 5, "mx.example")
	zone.PTR["192.0.2.1"] = []string{"host.example"}
	zone.CNAME["alias.example"] = "txt.example"
	zone.CNAME["dangling.example"] = "nowhere.example"
	zone.Fail["fail.example"] = true
	s := start(t, zone, WithTTL(120), WithNegativeTTL(30))

	tests := []struct {
		name, qname string
		qtype       uint16
		rcode       int
		answer      []string // RR strings without TTL variability
		soa         bool
	}{
		{"TXT", "txt.example", dns.TypeTXT, dns.RcodeSuccess, []string{
			"txt.example.\t120\tIN\tTXT\t\"v=spf1 -all\"", "txt.example.\t120\tIN\tTXT\t\"two\""}, false},
		{"A only", "host.example", dns.TypeA, dns.RcodeSuccess, []string{"host.example.\t120\tIN\tA\t192.0.2.1"}, false},
		{"AAAA only", "host.example", dns.TypeAAAA, dns.RcodeSuccess, []string{"host.example.\t120\tIN\tAAAA\t2001:db8::1"}, false},
		{"MX", "host.example", dns.TypeMX, dns.RcodeSuccess, []string{"host.example.\t120\tIN\tMX\t5 mx.example."}, false},
		{"PTR by literal", "1.2.0.192.in-addr.arpa", dns.TypePTR, dns.RcodeSuccess, []string{"1.2.0.192.in-addr.arpa.\t120\tIN\tPTR\thost.example."}, false},
		{"CNAME", "alias.example", dns.TypeTXT, dns.RcodeSuccess, []string{
			"alias.example.\t120\tIN\tCNAME\ttxt.example.",
			"txt.example.\t120\tIN\tTXT\t\"v=spf1 -all\"", "txt.example.\t120\tIN\tTXT\t\"two\""}, false},
		{"CNAME to NXDOMAIN", "dangling.example", dns.TypeTXT, dns.RcodeNameError, []string{"dangling.example.\t120\tIN\tCNAME\tnowhere.example."}, true},
		{"NODATA", "txt.example", dns.TypeMX, dns.RcodeSuccess, nil, true},
		{"CNAME asked", "alias.example", dns.TypeCNAME, dns.RcodeSuccess, []string{"alias.example.\t120\tIN\tCNAME\ttxt.example."}, false},
		{"SPF is NODATA", "txt.example", dns.TypeSPF, dns.RcodeSuccess, nil, true},
		{"NXDOMAIN", "nx.example", dns.TypeTXT, dns.RcodeNameError, nil, true},
		{"SERVFAIL", "fail.example", dns.TypeTXT, dns.RcodeServerFailure, nil, false},
	}
	for _, tc := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+network, func(t *testing.T) {
				t.Parallel()
				r, err := ask(t, s, network, tc.qname, tc.qtype, 1232, false)
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != tc.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				var got []string
				for _, rr := range r.Answer {
					got = append(got, rr.String())
				}
				if !slices.Equal(got, tc.answer) {
					t.Errorf("answer\n%q\nwant\n%q", got, tc.answer)
				}
				var soa *dns.SOA
				if len(r.Ns) == 1 {
					soa, _ = r.Ns[0].(*dns.SOA)
				}
				if (soa != nil) != tc.soa || (soa != nil && (soa.Minttl != 30 || soa.Hdr.Ttl != 30)) {
					t.Errorf("authority %v, want SOA=%v with TTL 30", r.Ns, tc.soa)
				}
				if !r.RecursionAvailable || r.Truncated {
					t.Errorf("RA=%v TC=%v", r.RecursionAvailable, r.Truncated)
				}
			})
		}
	}
	t.Cleanup(func() { // after the parallel subtests
		if n := zone.Queries("TXT", "txt.example"); n != 2 {
			t.Errorf("Fake counted %d TXT queries for txt.example, want 2", n)
		}
	})
}

// TestServeTruncation: a plain 512-byte client gets TC over UDP and the
// whole answer over TCP; an EDNS0 client with a big enough buffer gets it
// over UDP.
func TestServeTruncation(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	big := strings.Repeat("0123456789", 70) // 700 octets: 3 character-strings
	zone.AddTXT("big.example", big)
	s := start(t, zone)
	tests := []struct {
		network string
		edns    uint16
		wantTC  bool
	}{
		{"udp", 0, true},
		{"udp", 600, true},
		{"udp", 1232, false},
		{"tcp", 0, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/edns%d", tc.network, tc.edns), func(t *testing.T) {
			t.Parallel()
			r, err := ask(t, s, tc.network, "big.example", dns.TypeTXT, tc.edns, false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated != tc.wantTC {
				t.Fatalf("TC=%v, want %v", r.Truncated, tc.wantTC)
			}
			if tc.wantTC {
				return
			}
			if len(r.Answer) != 1 {
				t.Fatalf("answer %v", r.Answer)
			}
			parts := r.Answer[0].(*dns.TXT).Txt
			if len(parts) != 3 || len(parts[0]) != 255 || strings.Join(parts, "") != big {
				t.Errorf("character-strings %d: %q", len(parts), parts)
			}
		})
	}
}

func TestServeTimeoutDrops(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.Timeout["slow.example"] = true
	zone.TimeoutTypes["half.example"] = map[string]bool{"MX": true}
	zone.AddA("half.example", "192.0.2.1")
	s := start(t, zone)
	for _, tc := range []struct {
		name     string
		qtype    uint16
		wantDrop bool
	}{
		{"slow.example", dns.TypeTXT, true},
		{"half.example", dns.TypeMX, true},
		{"half.example", dns.TypeA, false},
	} {
		t.Run(tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
			t.Parallel()
			_, err := ask(t, s, "udp", tc.name, tc.qtype, 1232, false)
			var ne net.Error
			dropped := err != nil && errors.As(err, &ne) && ne.Timeout()
			if dropped != tc.wantDrop {
				t.Errorf("err = %v, want drop=%v", err, tc.wantDrop)
			}
		})
	}
	t.Cleanup(func() { // after the parallel subtests
		udp, tcp := s.Queries()
		if udp != 3 || tcp != 0 {
			t.Errorf("Queries() = %d, %d", udp, tcp)
		}
	})
}

func TestServeAD(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("signed.example", "k")
	zone.AddTXT("plain.example", "k")
	zone.Authentic["signed.example"] = true
	s := start(t, zone)
	tests := []struct {
		name    string
		askAD   bool
		setAD   bool
		wantAD  bool
		comment string
	}{
		{"signed.example", true, false, true, "authentic name, AD asked"},
		{"signed.example", false, false, false, "AD not asked (RFC 6840 §5.7)"},
		{"plain.example", true, false, false, "not authentic"},
		{"plain.example", true, true, true, "SetAD"},
	}
	for _, tc := range tests {
		t.Run(tc.comment, func(t *testing.T) {
			s.SetAD(tc.setAD)
			r, err := ask(t, s, "udp", tc.name, dns.TypeTXT, 1232, tc.askAD)
			if err != nil {
				t.Fatal(err)
			}
			if r.AuthenticatedData != tc.wantAD {
				t.Errorf("AD=%v, want %v", r.AuthenticatedData, tc.wantAD)
			}
		})
	}
}

func TestServeSetTTL(t *testing.T) {
	t.Parallel()
	zone := resolver.NewFake()
	zone.AddTXT("a.example", "x")
	zone.AddTXT("b.example", "y")
	s := start(t, zone)
	s.SetTTL("A.example.", 7)
	for _, tc := range []struct {
		name string
		want uint32
	}{{"a.example", 7}, {"b.example", 300}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ask(t, s, "udp", tc.name, dns.TypeTXT, 1232, false)
			if err != nil || len(r.Answer) != 1 || r.Answer[0].Header().Ttl != tc.want {
				t.Errorf("%v %v, want TTL %d", r, err, tc.want)
			}
		})
	}
}

func TestSplitTXT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int // character-strings
	}{
		{"", 1}, {"x", 1}, {strings.Repeat("x", 255), 1}, {strings.Repeat("x", 256), 2},
		{strings.Repeat("\"", 300), 2}, {"caf\xc3\xa9 \\ \x00", 1},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got := wireStrings(t, SplitTXT(tc.in))
			if len(got) != tc.want || strings.Join(got, "") != tc.in {
				t.Errorf("got %q, want %d strings joining to %q", got, tc.want, tc.in)
			}
		})
	}
}

// wireStrings packs a TXT RR with the given (escaped) strings and returns
// the raw character-strings from the wire.
func wireStrings(t *testing.T, txt []string) []string {
	rr := &dns.TXT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: txt}
	buf := make([]byte, 70000)
	off, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	rdata := buf[11:off] // root owner (1) + type, class, ttl, rdlength (10)
	var out []string
	for len(rdata) > 0 {
		l := int(rdata[0])
		if 1+l > len(rdata) {
			t.Fatalf("bad wire %q", rdata)
		}
		out = append(out, string(rdata[1:1+l]))
		rdata = rdata[1+l:]
	}
	return out
}

func FuzzSplitTXT(f *testing.F) {
	f.Add("v=spf1 include:_spf.example.com -all")
	f.Add(strings.Repeat("\\\"\x00\xff", 100))
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > 4000 {
			in = in[:4000]
		}
		parts := wireStrings(t, SplitTXT(in))
		if strings.Join(parts, "") != in {
			t.Fatalf("round trip %q -> %q", in, parts)
		}
		for i, p := range parts {
			if len(p) > 255 || (len(p) < 255 && i < len(parts)-1) {
				t.Fatalf("part %d has %d octets", i, len(p))
			}
		}
	})
}
