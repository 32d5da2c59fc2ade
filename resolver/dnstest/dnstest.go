// Package dnstest serves the contents of a *resolver.Fake over real DNS
// (RFC 1035), UDP and TCP on one loopback port, so that end-to-end tests can
// point a real stub resolver (resolver.Stub, or a mail server's own) at the
// same records the unit tests use.
//
// The Fake's semantics map onto DNS as a recursive resolver would present
// them:
//   - Timeout and TimeoutTypes: no reply at all (the datagram is dropped).
//   - Fail: SERVFAIL.
//   - CNAME: the CNAME RR(s) followed by the target's records, in one
//     answer (RFC 1034 §4.3.2); a chain longer than 8 gives SERVFAIL.
//   - No record of the asked type: NXDOMAIN when the name has no record of
//     any type and no CNAME, else NODATA; both carry an SOA in the authority
//     section so that negative caching works (RFC 2308 §3).
//   - TXT strings longer than 255 octets are split into 255-octet
//     character-strings (RFC 7208 §3.3, RFC 6376 §3.6.2.2).
//   - A UDP answer larger than the client's buffer (512 without EDNS0, RFC
//     1035 §4.2.1; the OPT size otherwise, RFC 6891 §6.2.3) is truncated
//     with TC set, so clients retry over TCP (RFC 7766 §5).
//   - AD is set for names in Fake.Authentic (after CNAMEs) or for every
//     answer after SetAD(true), but only when the query had AD or DO set
//     (RFC 6840 §5.7).
//   - PTR questions for in-addr.arpa/ip6.arpa names find PTR entries keyed
//     by the reverse name or by the IP literal (see resolver.Fake.Node).
//   - Any other type (SPF, NS, ...) answers NODATA or NXDOMAIN.
//
// Every question is counted in the Fake (resolver.Fake.Queries), under the
// question name and the type's mnemonic ("TXT", "A", "SPF", ...).
package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/authmilter/authmilter/resolver"
)

// Errors returned by Serve.
var ErrListen = errors.New("dnstest: cannot listen on 127.0.0.1")

const (
	defaultTTL         = 300
	defaultNegativeTTL = 60
	maxCNAMEHops       = 8
	// serverUDPSize is the EDNS0 buffer size we advertise in replies.
	serverUDPSize = 1232
	listenTries   = 20
)

// Server is a running loopback DNS server. Its methods are safe for
// concurrent use.
type Server struct {
	zone   *resolver.Fake
	ttl    uint32
	negTTL uint32
	noSOA  bool
	ad     atomic.Bool

	mu   sync.Mutex
	ttls map[string]uint32

	udpQueries, tcpQueries atomic.Int64

	addr     string
	udp, tcp *dns.Server
}

// Option changes a Server's defaults in Serve.
type Option func(*Server)

// WithTTL sets the TTL of every record (default 300 seconds); SetTTL
// overrides it per name.
func WithTTL(seconds uint32) Option { return func(s *Server) { s.ttl = seconds } }

// WithNegativeTTL sets the TTL and MINIMUM of the SOA sent with NXDOMAIN and
// NODATA answers (default 60 seconds), i.e. their negative-caching time
// (RFC 2308 §5).
func WithNegativeTTL(seconds uint32) Option { return func(s *Server) { s.negTTL = seconds } }

// WithoutSOA leaves the SOA out of negative answers, as some broken servers
// do, to test how clients cache them.
func WithoutSOA() Option { return func(s *Server) { s.noSOA = true } }

// Serve starts a server for zone on 127.0.0.1, UDP and TCP on the same
// port. The zone may be changed while the server runs (through Fake's
// methods). Close it when done.
func Serve(zone *resolver.Fake, opts ...Option) (*Server, error) {
	s := &Server{zone: zone, ttl: defaultTTL, negTTL: defaultNegativeTTL, ttls: map[string]uint32{}}
	for _, o := range opts {
		o(s)
	}
	var lastErr error
	for range listenTries {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrListen, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			// The TCP port is taken by someone else: try another one.
			pc.Close()
			lastErr = err
			continue
		}
		s.addr = pc.LocalAddr().String()
		started := make(chan struct{}, 2)
		notify := func() { started <- struct{}{} }
		s.udp = &dns.Server{PacketConn: pc, Handler: s, NotifyStartedFunc: notify}
		s.tcp = &dns.Server{Listener: ln, Handler: s, NotifyStartedFunc: notify}
		errc := make(chan error, 2)
		go func() { errc <- s.udp.ActivateAndServe() }()
		go func() { errc <- s.tcp.ActivateAndServe() }()
		for range 2 {
			select {
			case <-started:
			case err := <-errc:
				s.Close()
				return nil, fmt.Errorf("%w: %w", ErrListen, err)
			}
		}
		return s, nil
	}
	return nil, fmt.Errorf("%w: no port free for both UDP and TCP: %w", ErrListen, lastErr)
}

// Addr returns "127.0.0.1:PORT", usable as a resolver.StubConfig nameserver.
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners and waits for running handlers.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv != nil {
			if err := srv.ShutdownContext(context.Background()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// SetAD makes every answer carry the AD bit (when the query asked for it),
// as if all names were in zone.Authentic.
func (s *Server) SetAD(on bool) { s.ad.Store(on) }

// SetTTL sets the TTL of the records owned by name (including its CNAME).
func (s *Server) SetTTL(name string, seconds uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttls[canon(name)] = seconds
}

// Queries returns how many questions arrived over UDP and over TCP,
// including those that got no reply.
func (s *Server) Queries() (udp, tcp int) {
	return int(s.udpQueries.Load()), int(s.tcpQueries.Load())
}

func canon(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

func (s *Server) ttlFor(name string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.ttls[canon(name)]; ok {
		return t
	}
	return s.ttl
}

// typeName is the Fake's name for a query type: "TXT", "A", "AAAA", "MX",
// "PTR", or the mnemonic of any other type.
func typeName(t uint16) string {
	if n, ok := dns.TypeToString[t]; ok {
		return n
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// ServeDNS implements dns.Handler.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	if isTCP {
		s.tcpQueries.Add(1)
	} else {
		s.udpQueries.Add(1)
	}
	m := new(dns.Msg)
	if r.Opcode != dns.OpcodeQuery || len(r.Question) != 1 {
		m.SetRcode(r, dns.RcodeNotImplemented)
		_ = w.WriteMsg(m)
		return
	}
	m.SetReply(r)
	// We present ourselves as a recursive resolver that is also
	// authoritative for everything: RA and AA keep clients from taking a
	// negative answer for a lame referral.
	m.Authoritative, m.RecursionAvailable = true, true
	q := r.Question[0]
	opt := r.IsEdns0()
	if opt != nil {
		if opt.Version() != 0 {
			m.SetRcode(r, dns.RcodeBadVers)
			m.SetEdns0(serverUDPSize, false)
			_ = w.WriteMsg(m)
			return
		}
		m.SetEdns0(serverUDPSize, false)
	}
	if q.Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeRefused
		_ = w.WriteMsg(m)
		return
	}
	typ := typeName(q.Qtype)
	s.zone.CountQuery(typ, resolver.RawName(q.Name))

	cur := dns.Fqdn(q.Name)
	var nd resolver.FakeNode
	for hops := 0; ; hops++ {
		nd = s.zone.Node(resolver.RawName(cur))
		if nd.TimesOut(typ) {
			return // drop: the client times out
		}
		if nd.Fail {
			m.Answer = nil
			m.Rcode = dns.RcodeServerFailure
			_ = w.WriteMsg(m)
			return
		}
		if nd.CNAME == "" || q.Qtype == dns.TypeCNAME {
			break
		}
		if hops == maxCNAMEHops {
			m.Answer = nil
			m.Rcode = dns.RcodeServerFailure
			_ = w.WriteMsg(m)
			return
		}
		target := dns.Fqdn(resolver.PresentationName(nd.CNAME))
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: s.hdr(cur, dns.TypeCNAME), Target: target})
		cur = target
	}
	rrs := s.records(nd, cur, q.Qtype)
	m.Answer = append(m.Answer, rrs...)
	if len(rrs) == 0 {
		if !nd.Exists {
			m.Rcode = dns.RcodeNameError
		}
		if !s.noSOA {
			m.Ns = append(m.Ns, s.soa(cur))
		}
	}
	wantAD := r.AuthenticatedData || (opt != nil && opt.Do())
	m.AuthenticatedData = wantAD && (s.ad.Load() || nd.Authentic) && m.Rcode != dns.RcodeServerFailure
	if !isTCP {
		size := dns.MinMsgSize
		if opt != nil {
			size = max(int(opt.UDPSize()), dns.MinMsgSize)
		}
		m.Truncate(size)
	} else {
		m.Compress = true
	}
	_ = w.WriteMsg(m)
}

func (s *Server) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: s.ttlFor(name)}
}

// records returns the RRs of type qt that node nd (owner name) holds.
func (s *Server) records(nd resolver.FakeNode, name string, qt uint16) []dns.RR {
	var out []dns.RR
	switch qt {
	case dns.TypeTXT:
		for _, t := range nd.TXT {
			out = append(out, &dns.TXT{Hdr: s.hdr(name, qt), Txt: SplitTXT(t)})
		}
	case dns.TypeA:
		for _, ip := range nd.A {
			out = append(out, &dns.A{Hdr: s.hdr(name, qt), A: ip})
		}
	case dns.TypeAAAA:
		for _, ip := range nd.AAAA {
			out = append(out, &dns.AAAA{Hdr: s.hdr(name, qt), AAAA: ip})
		}
	case dns.TypeMX:
		for _, mx := range nd.MX {
			out = append(out, &dns.MX{Hdr: s.hdr(name, qt), Preference: mx.Pref, Mx: dns.Fqdn(resolver.PresentationName(mx.Host))})
		}
	case dns.TypeCNAME:
		if nd.CNAME != "" {
			out = append(out, &dns.CNAME{Hdr: s.hdr(name, qt), Target: dns.Fqdn(resolver.PresentationName(nd.CNAME))})
		}
	case dns.TypePTR:
		for _, p := range nd.PTR {
			out = append(out, &dns.PTR{Hdr: s.hdr(name, qt), Ptr: dns.Fqdn(resolver.PresentationName(p))})
		}
	}
	return out
}

// soa returns the SOA for a negative answer about name. Its owner is the
// top-level label of name, standing in for the zone apex (a Fake has no
// zones); TTL and MINIMUM are the negative TTL (RFC 2308 §3, §5).
func (s *Server) soa(name string) dns.RR {
	labels := dns.SplitDomainName(name)
	apex := "."
	if len(labels) > 0 {
		apex = labels[len(labels)-1] + "."
	}
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: s.negTTL},
		Ns:  "ns.dnstest.invalid.", Mbox: "hostmaster.dnstest.invalid.",
		Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: s.negTTL,
	}
}

// SplitTXT splits the octets of one TXT record into character-strings of
// at most 255 octets (RFC 1035 §3.3.14), escaped the way miekg/dns expects
// in dns.TXT.Txt: it reads `\"`, `\\` and `\DDD` as escapes when packing, so
// quotes, backslashes and bytes outside printable ASCII must be escaped or
// they would change on the wire. An empty record is one empty string.
func SplitTXT(txt string) []string {
	if txt == "" {
		return []string{""}
	}
	var out []string
	for len(txt) > 0 {
		n := min(len(txt), 255)
		out = append(out, escapeTXT(txt[:n]))
		txt = txt[n:]
	}
	return out
}

func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
