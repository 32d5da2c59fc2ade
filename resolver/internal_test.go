package resolver

import (
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseReverseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want string // "" = not a reverse name
	}{
		{"1.2.0.192.in-addr.arpa", "192.0.2.1"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "2001:db8::1"},
		{"2.0.192.in-addr.arpa", ""},
		{"256.2.0.192.in-addr.arpa", ""},
		{"1.0.0.0.ip6.arpa", ""},
		{"x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", ""},
		{"example.com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ip, ok := parseReverseName(tc.name)
			if tc.want == "" {
				if ok {
					t.Errorf("parsed as %v", ip)
				}
				return
			}
			if !ok || ip.String() != tc.want {
				t.Errorf("got %v %v, want %s", ip, ok, tc.want)
			}
		})
	}
}

func FuzzParseReverseName(f *testing.F) {
	f.Add("1.2.0.192.in-addr.arpa")
	f.Add("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
	f.Add("01.2.0.192.in-addr.arpa")
	f.Fuzz(func(t *testing.T, s string) {
		ip, ok := parseReverseName(s)
		if !ok {
			return
		}
		// Whatever parses must be an address whose reverse name parses
		// back to the same address.
		back, ok := parseReverseName(ReverseName(ip))
		if !ok || !back.Equal(ip) {
			t.Fatalf("%q -> %v -> %q -> %v", s, ip, ReverseName(ip), back)
		}
	})
}

// txtWire builds the wire form of a TXT RR (root owner) holding raw as one
// character-string.
func txtWire(raw []byte) []byte {
	b := []byte{0, 0, 16, 0, 1, 0, 0, 0, 60}
	b = binary.BigEndian.AppendUint16(b, uint16(len(raw)+1))
	b = append(b, byte(len(raw)))
	return append(b, raw...)
}

func TestUnescapeTXT(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"plain", `q"uote`, `back\slash`, "\x00\x01\xff", "caf\xc3\xa9", `\065`, "", `\\065`} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			rr, _, err := dns.UnpackRR(txtWire([]byte(raw)), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := unescapeTXT(rr.(*dns.TXT).Txt[0]); got != raw {
				t.Errorf("got %q from %q, want %q", got, rr.(*dns.TXT).Txt[0], raw)
			}
		})
	}
}

func FuzzUnescapeTXT(f *testing.F) {
	f.Add([]byte(`v=DKIM1; p="x"\`))
	f.Add([]byte{0, 255, '\\', '0', '6', '5'})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 255 {
			raw = raw[:255]
		}
		rr, _, err := dns.UnpackRR(txtWire(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := unescapeTXT(rr.(*dns.TXT).Txt[0]); got != string(raw) {
			t.Fatalf("got %q, want %q", got, raw)
		}
	})
}

func TestParseResolvConf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"typical", "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n", []string{"127.0.0.53:53"}},
		{"several and v6", "nameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\n", []string{"192.0.2.53:53", "[2001:db8::53]:53", "[fe80::1%eth0]:53"}},
		{"comments and junk", "# nameserver 192.0.2.1\n; x\nnameserver\nnameserver host.example\n  nameserver   192.0.2.2   # c\n", []string{"192.0.2.2:53"}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseResolvConf(strings.NewReader(tc.in))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add("nameserver 127.0.0.1\nnameserver ::1\n")
	f.Add("nameserver fe80::1%eth0 # x\noptions timeout:1\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseResolvConf(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range got {
			if _, err := normalizeNameserver(s); err != nil {
				t.Fatalf("parsed %q, which NewStub rejects: %v", s, err)
			}
		}
	})
}

// FuzzInterpret feeds arbitrary responses to the answer interpretation.
func FuzzInterpret(f *testing.F) {
	seed := func(edit func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.SetQuestion("q.example.", dns.TypeTXT)
		m.Response, m.RecursionAvailable = true, true
		edit(m)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
	}
	f.Add(seed(func(m *dns.Msg) {
		m.Answer = append(m.Answer, &dns.TXT{Hdr: hdr("q.example.", dns.TypeTXT), Txt: []string{"a", "b"}})
	}))
	f.Add(seed(func(m *dns.Msg) {
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: hdr("q.example.", dns.TypeCNAME), Target: "t.example."},
			&dns.TXT{Hdr: hdr("t.example.", dns.TypeTXT), Txt: []string{"x"}})
	}))
	f.Add(seed(func(m *dns.Msg) {
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, &dns.SOA{Hdr: hdr("example.", dns.TypeSOA), Ns: "ns.", Mbox: "h.", Minttl: 30})
	}))
	f.Add(seed(func(m *dns.Msg) { m.RecursionAvailable = false }))
	f.Fuzz(func(t *testing.T, wire []byte) {
		m := new(dns.Msg)
		if m.Unpack(wire) != nil || len(m.Question) != 1 {
			return
		}
		q := m.Question[0]
		for _, qt := range []uint16{q.Qtype, dns.TypeTXT, dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypePTR} {
			r := interpret(m, q.Name, qt, "test", len(wire))
			if (r.ans == nil) == (r.fail == nil) {
				t.Fatalf("result %+v: want exactly one of answer and failure", r)
			}
			if r.ttl < 0 || r.ttl > maxPositiveTTL {
				t.Fatalf("ttl %v", r.ttl)
			}
			if r.fail != nil {
				if r.ttl > maxNegativeTTL || (r.ttl > 0 && r.fail.kind != ErrNXDomain && r.fail.kind != ErrNoData) {
					t.Fatalf("failure %v cached for %v", r.fail.kind, r.ttl)
				}
				continue
			}
			if n := len(r.ans.strs) + len(r.ans.ips) + len(r.ans.mx); n == 0 {
				t.Fatal("empty positive answer")
			}
			for _, ip := range r.ans.ips {
				if (qt == dns.TypeA) != (len(ip) == net.IPv4len) {
					t.Fatalf("qtype %d gave %v", qt, ip)
				}
			}
		}
	})
}

func TestCacheShards(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 1, 15, 16, 17, 100, 1000, 100000} {
		c := newCache(size)
		total := 0
		for _, s := range c.shards {
			total += s.capacity
		}
		if total != size || len(c.shards) > 64 || len(c.shards) < 1 {
			t.Errorf("size %d: %d shards, total capacity %d", size, len(c.shards), total)
		}
	}
	// Eviction prefers expired entries.
	c := newCache(2)
	now := time.Unix(1000, 0)
	sh := c.shards[0]
	sh.putLocked(cacheKey{"old", 16}, result{ans: &answer{}, ttl: time.Second}, now)
	sh.putLocked(cacheKey{"fresh", 16}, result{ans: &answer{}, ttl: time.Hour}, now)
	if !sh.putLocked(cacheKey{"new", 16}, result{ans: &answer{}, ttl: time.Hour}, now.Add(time.Minute)) {
		t.Fatal("no eviction in a full shard")
	}
	if _, ok := sh.entries[cacheKey{"fresh", 16}]; !ok {
		t.Error("evicted the unexpired entry instead of the expired one")
	}
}
