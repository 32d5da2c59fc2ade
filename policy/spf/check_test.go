package spf_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/resolver"
)

func newChecker(f *resolver.Fake) *spf.Checker {
	return &spf.Checker{
		Resolver:           f,
		Receiver:           "mx.receiver.example",
		DefaultExplanation: "DEFAULT",
		Now:                func() time.Time { return time.Unix(1700000000, 0) },
	}
}

var (
	ip4 = net.ParseIP("192.0.2.10")
	ip6 = net.ParseIP("2001:db8::10")
)

func TestCheckBehaviour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		zone      func(f *resolver.Fake)
		setup     func(c *spf.Checker)
		ip        net.IP
		helo      string
		mailFrom  string
		want      spf.Result
		mechanism string
		problem   string // substring
		expl      string
		sender    string
		lookups   int
	}{
		{
			name: "pass ip4", ip: ip4, helo: "mail.example.com", mailFrom: "user@example.com",
			zone: func(f *resolver.Fake) { f.AddTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all") },
			want: spf.Pass, mechanism: "ip4:192.0.2.0/24", sender: "user@example.com",
		},
		{
			name: "pass ip6 via a", ip: ip6, helo: "mail.example.com", mailFrom: "<user@example.com>",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 a:mail.example.com/24//64 -all")
				f.AddA("mail.example.com", "192.0.2.1", "2001:db8::1")
			},
			want: spf.Pass, mechanism: "a:mail.example.com/24//64", sender: "user@example.com", lookups: 1,
		},
		{
			name: "null sender uses helo", ip: ip4, helo: "mail.example.com", mailFrom: "<>",
			zone: func(f *resolver.Fake) { f.AddTXT("mail.example.com", "v=spf1 -all") },
			want: spf.Fail, mechanism: "-all", sender: "postmaster@mail.example.com", expl: "DEFAULT",
		},
		{
			name: "no local part", ip: ip4, helo: "mail.example.com", mailFrom: "@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 -all exp=why.example.com")
				f.AddTXT("why.example.com", "%{l} of %{o} says no to %{i}")
			},
			want: spf.Fail, sender: "postmaster@example.com", expl: "postmaster of example.com says no to 192.0.2.10",
		},
		{
			name: "no record", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) { f.AddTXT("example.com", "google-site-verification=x") },
			want: spf.None, problem: "no SPF record",
		},
		{
			name: "txt timeout", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) { f.Timeout["example.com"] = true },
			want: spf.TempError, problem: "timeout",
		},
		{
			name: "servfail", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) { f.Fail["example.com"] = true },
			want: spf.TempError, problem: "DNS lookup failed",
		},
		{
			name: "domain literal", ip: ip4, helo: "h.example", mailFrom: "u@[192.0.2.10]",
			want: spf.None, problem: "not a fully-qualified domain name",
		},
		{
			name: "custom lookup limit", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			setup: func(c *spf.Checker) { c.MaxLookups = 2 },
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 a:a.example.com a:b.example.com a:c.example.com -all")
				f.AddA("a.example.com", "198.51.100.1")
				f.AddA("b.example.com", "198.51.100.2")
				f.AddA("c.example.com", "192.0.2.10")
			},
			want: spf.PermError, problem: "too many DNS lookups", lookups: 3,
		},
		{
			name: "custom void limit", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			setup: func(c *spf.Checker) { c.MaxVoidLookups = 1 },
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 a:nx1.example.com a:nx2.example.com +all")
			},
			want: spf.PermError, problem: "too many void DNS lookups",
		},
		{
			name: "include loop is bounded", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 include:example.com -all")
			},
			want: spf.PermError, problem: "too many DNS lookups", lookups: 11,
		},
		{
			name: "include match reports include", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 include:_spf.example.net -all")
				f.AddTXT("_spf.example.net", "v=spf1 ip4:192.0.2.10 -all")
			},
			want: spf.Pass, mechanism: "include:_spf.example.net", lookups: 1,
		},
		{
			name: "redirect reports target mechanism and exp", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 redirect=_spf.example.net exp=no.example.com")
				f.AddTXT("_spf.example.net", "v=spf1 ~ip4:192.0.2.0/24 -all exp=why.example.net")
				f.AddTXT("why.example.net", "%{d} rejects %{s}")
			},
			want: spf.SoftFail, mechanism: "~ip4:192.0.2.0/24", lookups: 1,
		},
		{
			name: "redirect fail explanation from target", ip: net.ParseIP("198.51.100.1"), helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 redirect=_spf.example.net exp=no.example.com")
				f.AddTXT("_spf.example.net", "v=spf1 ~ip4:192.0.2.0/24 -all exp=why.example.net")
				f.AddTXT("why.example.net", "%{d} rejects %{s}")
			},
			want: spf.Fail, mechanism: "-all", expl: "_spf.example.net rejects u@example.com",
		},
		{
			name: "mx eleven names but early match", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 mx -all")
				for i := range 11 {
					f.AddMX("example.com", uint16(10+i), fmt.Sprintf("mx%d.example.com", i))
				}
				f.AddA("mx0.example.com", "192.0.2.10")
			},
			want: spf.Pass, mechanism: "mx",
		},
		{
			name: "mx eleven names no match", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 mx -all")
				for i := range 11 {
					f.AddMX("example.com", uint16(10+i), fmt.Sprintf("mx%d.example.com", i))
					f.AddA(fmt.Sprintf("mx%d.example.com", i), "198.51.100.1")
				}
			},
			want: spf.PermError, problem: "too many MX names",
		},
		{
			name: "mx host timeout hides nothing", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 mx -all")
				f.AddMX("example.com", 10, "slow.example.com")
				f.AddMX("example.com", 20, "mx.example.com")
				f.Timeout["slow.example.com"] = true
				f.AddA("mx.example.com", "198.51.100.1")
			},
			want: spf.TempError, problem: "timeout",
		},
		{
			name: "mx host timeout but other host matches", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 mx -all")
				f.AddMX("example.com", 10, "slow.example.com")
				f.AddMX("example.com", 20, "mx.example.com")
				f.Timeout["slow.example.com"] = true
				f.AddA("mx.example.com", "192.0.2.10")
			},
			want: spf.Pass, mechanism: "mx",
		},
		{
			name: "null mx", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 mx ?all")
				f.AddMX("example.com", 0, ".")
			},
			want: spf.Neutral, mechanism: "?all",
		},
		{
			name: "p macro in explanation", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 -all exp=why.example.com")
				f.AddTXT("why.example.com", "%{c} (%{p}) is not %{d} at %{t} says %{r}")
				f.PTR["192.0.2.10"] = []string{"liar.example.org.", "host.example.com."}
				f.AddA("host.example.com", "192.0.2.10")
			},
			want: spf.Fail, expl: "192.0.2.10 (host.example.com) is not example.com at 1700000000 says mx.receiver.example",
		},
		{
			name: "explanation cannot inject CRLF", ip: ip4, helo: "h.example", mailFrom: "a\r\nX-Evil: 1@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1 -all exp=why.example.com")
				f.AddTXT("why.example.com", "%{l} rejected")
			},
			want: spf.Fail, expl: "aX-Evil: 1 rejected",
		},
		{
			name: "default explanation is expanded", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			setup: func(c *spf.Checker) { c.DefaultExplanation = "see https://spf.example/why?s=%{S}&ip=%{C}" },
			zone:  func(f *resolver.Fake) { f.AddTXT("example.com", "v=spf1 -all") },
			want:  spf.Fail, expl: "see https://spf.example/why?s=u%40example.com&ip=192.0.2.10",
		},
		{
			name: "default explanation with bad macro is literal", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			setup: func(c *spf.Checker) { c.DefaultExplanation = "100% not allowed" },
			zone:  func(f *resolver.Fake) { f.AddTXT("example.com", "v=spf1 -all") },
			want:  spf.Fail, expl: "100% not allowed",
		},
		{
			name: "hostile ptr record is bounded", ip: ip4, helo: "h.example", mailFrom: "u@example.com",
			zone: func(f *resolver.Fake) {
				f.AddTXT("example.com", "v=spf1"+strings.Repeat(" ptr:nomatch.example", 500)+" -all")
				for i := range 50 {
					f.PTR["192.0.2.10"] = append(f.PTR["192.0.2.10"], fmt.Sprintf("h%d.nomatch.example", i))
				}
			},
			want: spf.PermError, problem: "too many DNS lookups", lookups: 11,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := resolver.NewFake()
			if tt.zone != nil {
				tt.zone(f)
			}
			c := newChecker(f)
			if tt.setup != nil {
				tt.setup(c)
			}
			o := c.CheckMailFrom(context.Background(), tt.ip, tt.helo, tt.mailFrom)
			if o.Result != tt.want {
				t.Fatalf("result %s (problem %q, mechanism %q), want %s", o.Result, o.Problem, o.Mechanism, tt.want)
			}
			if tt.mechanism != "" && o.Mechanism != tt.mechanism {
				t.Errorf("mechanism %q, want %q", o.Mechanism, tt.mechanism)
			}
			if !strings.Contains(o.Problem, tt.problem) || (tt.problem == "" && o.Problem != "" && o.Result != spf.None) {
				t.Errorf("problem %q, want it to contain %q", o.Problem, tt.problem)
			}
			if o.Explanation != tt.expl {
				t.Errorf("explanation %q, want %q", o.Explanation, tt.expl)
			}
			if tt.sender != "" && o.Sender != tt.sender {
				t.Errorf("sender %q, want %q", o.Sender, tt.sender)
			}
			if tt.lookups != 0 && o.Lookups != tt.lookups {
				t.Errorf("lookups %d, want %d", o.Lookups, tt.lookups)
			}
			if o.Identity != spf.IdentityMailFrom {
				t.Errorf("identity %q", o.Identity)
			}
		})
	}
}

func TestHostilePTRQueriesBounded(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("example.com", "v=spf1"+strings.Repeat(" ptr", 30)+" -all")
	for i := range 50 {
		name := fmt.Sprintf("h%d.example.com", i)
		f.PTR["192.0.2.10"] = append(f.PTR["192.0.2.10"], name)
		f.AddA(name, "198.51.100.1")
	}
	o := newChecker(f).CheckMailFrom(context.Background(), ip4, "h.example", "u@example.com")
	if o.Result != spf.PermError {
		t.Fatalf("result %s, want permerror", o.Result)
	}
	// 10 ptr terms, each at most 1 PTR query and 10 A queries (§4.6.4).
	total := 0
	for i := range 50 {
		total += f.Queries("A", fmt.Sprintf("h%d.example.com", i))
	}
	if total > 100 {
		t.Errorf("%d A queries for PTR names, want at most 100", total)
	}
	if n := f.Queries("A", "h10.example.com"); n != 0 {
		t.Errorf("the 11th PTR name was looked up %d times; §4.6.4 says ignore it", n)
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("example.com", "v=spf1 a -all")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	o := newChecker(f).CheckMailFrom(ctx, ip4, "h.example", "u@example.com")
	if o.Result != spf.TempError || !strings.Contains(o.Problem, "canceled") {
		t.Fatalf("got %s %q, want temperror for a cancelled context", o.Result, o.Problem)
	}
}

// cancelAfter cancels the context when the n-th query is made, to test
// cancellation in the middle of an evaluation.
type cancelAfter struct {
	resolver.Resolver
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 {
		c.cancel()
	}
}

func (c *cancelAfter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	c.tick()
	return c.Resolver.LookupTXT(ctx, name)
}

func (c *cancelAfter) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	c.tick()
	return c.Resolver.LookupAddr(ctx, addr)
}

func TestCancelledMidway(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	// A PTR error is a non-match (§5.5), so without the context check the
	// record would fall through to +all.
	f.AddTXT("example.com", "v=spf1 ptr +all")
	f.PTR["192.0.2.10"] = []string{"host.example.com"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &cancelAfter{Resolver: f, n: 2, cancel: cancel}
	c := newChecker(f)
	c.Resolver = r
	o := c.CheckMailFrom(ctx, ip4, "h.example", "u@example.com")
	if o.Result != spf.TempError {
		t.Fatalf("got %s %q, want temperror when cancelled during ptr", o.Result, o.Problem)
	}
}

func TestCheckHelo(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("mail.example.com", "v=spf1 a -all")
	f.AddA("mail.example.com", "192.0.2.10")
	c := newChecker(f)
	for _, tt := range []struct {
		helo    string
		want    spf.Result
		problem string
	}{
		{"mail.example.com", spf.Pass, ""},
		{"MAIL.EXAMPLE.COM.", spf.Pass, ""},
		{"[192.0.2.10]", spf.None, "not a fully-qualified"},
		{"192.0.2.10", spf.None, "not a fully-qualified"},
		{"[IPv6:2001:db8::10]", spf.None, "not a fully-qualified"},
		{"localhost", spf.None, "not a fully-qualified"},
		{"", spf.None, "not a fully-qualified"},
		{"a..example.com", spf.None, "not a fully-qualified"},
		{strings.Repeat("a", 64) + ".example.com", spf.None, "not a fully-qualified"},
	} {
		t.Run(tt.helo, func(t *testing.T) {
			t.Parallel()
			o := c.CheckHelo(context.Background(), ip4, tt.helo)
			if o.Result != tt.want || !strings.Contains(o.Problem, tt.problem) {
				t.Fatalf("CheckHelo(%q) = %s %q", tt.helo, o.Result, o.Problem)
			}
			if o.Identity != spf.IdentityHelo {
				t.Errorf("identity %q", o.Identity)
			}
			if want := "postmaster@" + strings.TrimSuffix(tt.helo, "."); o.Sender != want {
				t.Errorf("sender %q", o.Sender)
			}
		})
	}
	if n := f.Queries("TXT", "localhost") + f.Queries("TXT", "192.0.2.10"); n != 0 {
		t.Errorf("invalid HELO names were queried %d times", n)
	}
}

func TestCheckHostNoIP(t *testing.T) {
	t.Parallel()
	o := newChecker(resolver.NewFake()).CheckHost(context.Background(), nil, "example.com", "u@example.com", "h.example")
	if o.Result != spf.None || o.Problem == "" {
		t.Fatalf("got %s %q for a nil IP", o.Result, o.Problem)
	}
}

func TestCheckHostArguments(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("example.org", "v=spf1 -all exp=why.example.org")
	f.AddTXT("why.example.org", "%{s} %{o} %{d} %{h}")
	o := newChecker(f).CheckHost(context.Background(), ip4, "example.org", "user@example.com", "helo.example")
	if o.Result != spf.Fail || o.Explanation != "user@example.com example.com example.org helo.example" {
		t.Fatalf("got %s %q", o.Result, o.Explanation)
	}
	if o.Domain != "example.org" {
		t.Errorf("domain %q", o.Domain)
	}
}

// TestConcurrentChecks shares one Checker between goroutines (run with -race).
func TestConcurrentChecks(t *testing.T) {
	t.Parallel()
	f := resolver.NewFake()
	f.AddTXT("example.com", "v=spf1 ptr mx a exists:%{i}.bl.example.com -all")
	f.AddMX("example.com", 10, "mx.example.com")
	f.AddA("mx.example.com", "192.0.2.20")
	f.AddA("example.com", "192.0.2.30")
	c := newChecker(f)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := net.IPv4(192, 0, 2, byte(20+i%16)).To4()
			want := spf.Fail
			if i%16 == 0 || i%16 == 10 {
				want = spf.Pass
			}
			if o := c.CheckMailFrom(context.Background(), ip, "h.example", "u@example.com"); o.Result != want {
				t.Errorf("%s: got %s, want %s", ip, o.Result, want)
			}
		}()
	}
	wg.Wait()
}

func BenchmarkCheckHost(b *testing.B) {
	f := resolver.NewFake()
	f.AddTXT("example.com", "v=spf1 ip4:198.51.100.0/24 include:_spf.example.net mx -all")
	f.AddTXT("_spf.example.net", "v=spf1 ip6:2001:db8::/32 a:relay.example.net ~all")
	f.AddA("relay.example.net", "203.0.113.5")
	f.AddMX("example.com", 10, "mx.example.com")
	f.AddA("mx.example.com", "192.0.2.10")
	c := newChecker(f)
	ctx := context.Background()
	for b.Loop() {
		if o := c.CheckMailFrom(ctx, ip4, "h.example", "u@example.com"); o.Result != spf.Pass {
			b.Fatal(o.Result)
		}
	}
}
