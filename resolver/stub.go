package resolver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Tuning constants of Stub. Each one bounds something an upstream or an
// attacker controls.
const (
	// ednsBufSize is the EDNS0 UDP payload size we advertise (RFC 6891
	// §6.2.5); 1232 avoids IP fragmentation on any path with an IPv6 MTU
	// of 1280 (DNS Flag Day 2020). Larger answers come back with TC set and
	// are fetched again over TCP (RFC 7766 §5).
	ednsBufSize = 1232
	// maxCNAMEHops bounds how many CNAMEs of one answer are followed.
	maxCNAMEHops = 8
	// maxPositiveTTL caps how long an answer is cached whatever its TTL
	// says, so that a key rotation (RFC 6376 §3.6.1) is seen within a day.
	maxPositiveTTL = 24 * time.Hour
	// maxNegativeTTL caps negative caching; RFC 2308 §5 suggests one to
	// three hours, we take the lower end so a newly published record is
	// picked up soon.
	maxNegativeTTL = time.Hour
	// noSOANegativeTTL is used for a negative answer without an SOA in the
	// authority section. RFC 2308 §5 says such answers SHOULD NOT be
	// cached, because caching resolvers could loop them forever; a stub is
	// the last consumer and never passes an answer on, so a short fixed
	// lifetime is safe and spares the upstream repeated queries.
	noSOANegativeTTL = 60 * time.Second
	// maxCacheableMsg: answers from larger messages are returned but not
	// cached, so the cache's memory stays below CacheSize × this.
	maxCacheableMsg = 16 << 10
	// maxMsg is the largest DNS message (the TCP length prefix is 16 bits,
	// RFC 1035 §4.2.2); it bounds every read.
	maxMsg = 65535
	// defaultTimeout is the per-attempt timeout when StubConfig leaves it 0,
	// as in resolv.conf(5).
	defaultTimeout = 5 * time.Second
	// defaultAttempts is the number of rounds over all nameservers, as in
	// resolv.conf(5).
	defaultAttempts = 2
)

// StubConfig configures a Stub.
type StubConfig struct {
	// Nameservers are the recursive resolvers to ask, as "ip:port" (a bare
	// IP means port 53). They are tried in order for every query. Empty
	// means the nameserver lines of ResolvConf.
	Nameservers []string
	// ResolvConf is read when Nameservers is empty; "" = /etc/resolv.conf.
	// Only "nameserver" lines are used.
	ResolvConf string
	// Timeout bounds one attempt (one UDP exchange, or its TCP retry) with
	// one nameserver; 0 = 5s.
	Timeout time.Duration
	// Attempts is how many rounds over all nameservers are made while the
	// failures are temporary (timeouts, SERVFAIL, REFUSED); 0 = 2.
	Attempts int
	// CacheSize is the maximum number of cached answers, positive and
	// negative; 0 disables caching (concurrent lookups are still coalesced).
	CacheSize int
	// Now is the clock for cache expiry only (network deadlines always use
	// the real clock); nil = time.Now. Tests inject a clock to check TTLs.
	Now func() time.Time
}

// StubStats are cumulative counters, safe to read at any time (for
// metrics).
type StubStats struct {
	Queries     uint64 // DNS messages sent, over UDP and TCP
	CacheHits   uint64 // lookups answered from the cache, negative ones included
	CacheMisses uint64 // lookups that needed a query (or joined one in flight)
	Coalesced   uint64 // misses that joined an identical query already in flight
	Timeouts    uint64 // attempts that got no usable reply in time
	ServFails   uint64 // SERVFAIL responses received
	Truncated   uint64 // UDP responses with TC set, retried over TCP
	Mismatched  uint64 // UDP datagrams ignored: wrong ID or question (spoofing, stale replies)
	Evictions   uint64 // cache entries dropped to make room
}

// Stub is a caching stub resolver speaking DNS over UDP and TCP to the
// configured recursive resolvers. It implements Resolver and Authenticator.
//
// What it does for each lookup:
//   - Cache: answers are cached for the smallest TTL of the RRs used (CNAMEs
//     included), capped at one day; NXDOMAIN and NODATA for the SOA's
//     min(TTL, MINIMUM) (RFC 2308 §5), capped at one hour, or 60s without
//     an SOA. SERVFAIL, timeouts and other failures are never cached: the
//     upstream recursive resolver already caches failures (RFC 9520 §3.2)
//     and retrying is what turns a transient temperror into a pass.
//   - Coalescing: identical concurrent lookups share one query. The query
//     runs detached from any one caller's context, bounded by Timeout per
//     attempt; each caller stops waiting when its own context ends, and the
//     result is still cached for the next caller.
//   - Transport: UDP with EDNS0 (1232-byte buffer) and the AD bit set in
//     the query (RFC 6840 §5.7), a retry over TCP when TC is set (RFC 7766
//     §5), a retry without EDNS0 after FORMERR (RFC 6891 §7), each
//     nameserver in turn, Attempts rounds while failures are temporary.
//   - Anti-spoofing: a fresh socket (random source port) and a random
//     query ID per query; UDP datagrams whose ID, QR bit or question do
//     not match are ignored and reading continues until the deadline
//     (RFC 5452 §9.1).
//
// Errors are *net.DNSError with UnwrapErr set to one of the package
// sentinels (ErrNXDomain, ErrNoData, ErrServFail, ErrTimeout, ...).
type Stub struct {
	servers  []string
	timeout  time.Duration
	attempts int
	now      func() time.Time
	cache    *cache
	dialer   net.Dialer

	queries, hits, misses, coalesced, timeouts, servfails, truncated, mismatched, evictions atomic.Uint64
}

var _ Resolver = (*Stub)(nil)
var _ Authenticator = (*Stub)(nil)

// NewStub checks cfg and returns a ready Stub. It fails (wrapping ErrConfig)
// on a nameserver that is not an IP literal, negative numbers, or when no
// nameserver is configured or found in resolv.conf.
func NewStub(cfg StubConfig) (*Stub, error) {
	if cfg.Timeout < 0 || cfg.Attempts < 0 || cfg.CacheSize < 0 {
		return nil, fmt.Errorf("%w: negative Timeout, Attempts or CacheSize", ErrConfig)
	}
	raw := cfg.Nameservers
	if len(raw) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = "/etc/resolv.conf"
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		raw, err = parseResolvConf(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
		}
		if len(raw) == 0 {
			return nil, fmt.Errorf("%w: %s: no nameserver lines", ErrConfig, path)
		}
	}
	servers := make([]string, 0, len(raw))
	for _, ns := range raw {
		hp, err := normalizeNameserver(ns)
		if err != nil {
			return nil, fmt.Errorf("%w: nameserver %q: %w", ErrConfig, ns, err)
		}
		servers = append(servers, hp)
	}
	s := &Stub{
		servers: servers, timeout: cfg.Timeout, attempts: cfg.Attempts,
		now: cfg.Now, cache: newCache(cfg.CacheSize),
	}
	if s.timeout == 0 {
		s.timeout = defaultTimeout
	}
	if s.attempts == 0 {
		s.attempts = defaultAttempts
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// normalizeNameserver accepts "ip", "ip:port" and "[ipv6]:port" (a zone is
// kept for link-local servers) and returns "host:port".
func normalizeNameserver(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", errors.New("port 0")
		}
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", errors.New("not an IP address or IP:port")
	}
	return netip.AddrPortFrom(a, 53).String(), nil
}

// parseResolvConf returns the addresses of the "nameserver" lines of a
// resolv.conf(5), in order. Lines it cannot use are skipped, like the C
// library does; only a read error fails.
func parseResolvConf(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		if a, err := netip.ParseAddr(f[1]); err == nil {
			out = append(out, netip.AddrPortFrom(a, 53).String())
		}
	}
	return out, sc.Err()
}

// Stats returns a snapshot of the counters.
func (s *Stub) Stats() StubStats {
	return StubStats{
		Queries: s.queries.Load(), CacheHits: s.hits.Load(), CacheMisses: s.misses.Load(),
		Coalesced: s.coalesced.Load(), Timeouts: s.timeouts.Load(), ServFails: s.servfails.Load(),
		Truncated: s.truncated.Load(), Mismatched: s.mismatched.Load(), Evictions: s.evictions.Load(),
	}
}

// LookupTXT implements Resolver: one string per TXT RR, its
// character-strings concatenated without separators (RFC 7208 §3.3,
// RFC 6376 §3.6.2.2), in answer order.
func (s *Stub) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, _, err := s.LookupTXTAuthentic(ctx, name)
	return txt, err
}

// LookupTXTAuthentic implements Authenticator: like LookupTXT, plus the AD
// bit of the upstream response (RFC 4035 §3.2.3). The AD bit is only as
// trustworthy as the path to the nameserver (RFC 6840 §5.7): use a
// validating resolver on localhost.
func (s *Stub) LookupTXTAuthentic(ctx context.Context, name string) ([]string, bool, error) {
	a, err := s.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, false, err
	}
	return slices.Clone(a.strs), a.ad, nil
}

// LookupIP implements Resolver. network "ip4" asks only for A records,
// "ip6" only for AAAA (so that SPF can count a void lookup of one address
// family, RFC 7208 §4.6.4), "ip" for both. An IP literal is returned as is
// when it is of the asked family, like *net.Resolver does.
func (s *Stub) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	var qtypes []uint16
	switch network {
	case "ip4":
		qtypes = []uint16{dns.TypeA}
	case "ip6":
		qtypes = []uint16{dns.TypeAAAA}
	case "ip":
		qtypes = []uint16{dns.TypeA, dns.TypeAAAA}
	default:
		return nil, &net.DNSError{Err: "unknown network " + network, Name: host, UnwrapErr: ErrInvalidName}
	}
	if ip := net.ParseIP(host); ip != nil {
		is4 := ip.To4() != nil
		if network == "ip" || (network == "ip4") == is4 {
			return []net.IP{ip}, nil
		}
		return nil, &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true, UnwrapErr: ErrNoData}
	}
	if len(qtypes) == 1 {
		a, err := s.lookup(ctx, host, qtypes[0])
		if err != nil {
			return nil, err
		}
		return cloneIPs(nil, a.ips), nil
	}
	// "ip": both families concurrently; any address wins over an error,
	// as with *net.Resolver.
	var a6 *answer
	var err6 error
	done := make(chan struct{})
	go func() {
		defer close(done)
		a6, err6 = s.lookup(ctx, host, dns.TypeAAAA)
	}()
	a4, err4 := s.lookup(ctx, host, dns.TypeA)
	<-done
	var ips []net.IP
	if err4 == nil {
		ips = cloneIPs(ips, a4.ips)
	}
	if err6 == nil {
		ips = cloneIPs(ips, a6.ips)
	}
	switch {
	case len(ips) > 0:
		return ips, nil
	case err4 != nil && !IsNotFound(err4):
		return nil, err4
	case err6 != nil:
		return nil, err6
	default:
		return nil, err4
	}
}

func cloneIPs(dst, src []net.IP) []net.IP {
	for _, ip := range src {
		dst = append(dst, slices.Clone(ip))
	}
	return dst
}

// LookupMX implements Resolver. Hosts keep the trailing dot and the records
// are sorted by preference, both as *net.Resolver returns them; callers
// strip the dot.
func (s *Stub) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	a, err := s.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, len(a.mx))
	for i := range a.mx {
		mx := a.mx[i]
		out[i] = &mx
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
	return out, nil
}

// LookupAddr implements Resolver: the PTR names of the in-addr.arpa or
// ip6.arpa name of addr (RFC 7208 §5.5). Names keep the trailing dot, as
// *net.Resolver returns them; callers strip it.
func (s *Stub) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip := net.ParseIP(addr)
	if ip == nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr, UnwrapErr: ErrInvalidName}
	}
	a, err := s.lookup(ctx, ReverseName(ip), dns.TypePTR)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) {
			de.Name = addr
		}
		return nil, err
	}
	return slices.Clone(a.strs), nil
}

// validName reports whether n (a raw name: lower-case, no trailing dot) can
// be sent as a query: labels of 1 to 63 octets, at most 253 octets in all
// (RFC 1035 §2.3.4). Any octet may stand in a label (RFC 2181 §11); it is
// escaped for miekg/dns by PresentationName.
func validName(n string) bool {
	if n == "" || len(n) > 253 {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
	}
	return true
}

// lookup answers from the cache or joins/starts the one query in flight for
// (name, qtype) and waits for it or for ctx.
func (s *Stub) lookup(ctx context.Context, name string, qtype uint16) (*answer, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(name, err)
	}
	key := cacheKey{name: strings.ToLower(strings.TrimSuffix(name, ".")), qtype: qtype}
	sh := s.cache.shard(key)
	now := s.now()
	if r, ok := sh.get(key, now); ok {
		s.hits.Add(1)
		return r.deliver(name)
	}
	if !validName(key.name) {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, UnwrapErr: ErrInvalidName}
	}
	sh.mu.Lock()
	if e, ok := sh.entries[key]; ok && now.Before(e.expires) {
		sh.mu.Unlock()
		s.hits.Add(1)
		return e.res.deliver(name)
	}
	s.misses.Add(1)
	c, ok := sh.inflight[key]
	if ok {
		s.coalesced.Add(1)
	} else {
		c = &call{done: make(chan struct{})}
		sh.inflight[key] = c
		go s.fly(sh, key, c)
	}
	sh.mu.Unlock()
	select {
	case <-c.done:
		return c.res.deliver(name)
	case <-ctx.Done():
		return nil, ctxError(name, ctx.Err())
	}
}

func (r result) deliver(name string) (*answer, error) {
	if r.fail != nil {
		return nil, r.fail.dnsError(name)
	}
	return r.ans, nil
}

// fly runs one resolution, caches it and wakes the waiters. Caching and
// leaving the inflight map happen under one lock so that no lookup can slip
// between them and start a redundant query.
func (s *Stub) fly(sh *shard, key cacheKey, c *call) {
	res := s.resolve(key)
	sh.mu.Lock()
	if sh.putLocked(key, res, s.now()) {
		s.evictions.Add(1)
	}
	delete(sh.inflight, key)
	c.res = res
	sh.mu.Unlock()
	close(c.done)
}

// resolve asks the nameservers in turn until one gives a definitive answer
// (data, NXDOMAIN or NODATA) or the rounds are used up.
func (s *Stub) resolve(key cacheKey) result {
	qname := dns.Fqdn(PresentationName(key.name))
	var last *failure
	for round := 0; round < s.attempts; round++ {
		for _, srv := range s.servers {
			resp, size, f := s.exchange(srv, qname, key.qtype)
			if f == nil {
				r := interpret(resp, qname, key.qtype, srv, size)
				if r.fail == nil || !r.fail.temporary() {
					return r
				}
				f = r.fail
			}
			// A reply (SERVFAIL, FORMERR, ...) says more than a later
			// timeout from another server.
			if last == nil || f.kind != ErrTimeout || last.kind == ErrTimeout {
				last = f
			}
		}
		if !last.temporary() {
			break
		}
	}
	return result{fail: last}
}

// newQuery builds a recursive query with a random ID (RFC 5452 §9.1).
func newQuery(qname string, qtype uint16, edns bool) *dns.Msg {
	m := &dns.Msg{
		MsgHdr: dns.MsgHdr{
			Id: dns.Id(), Opcode: dns.OpcodeQuery, RecursionDesired: true,
			// RFC 6840 §5.7: setting AD in the query asks for the AD bit in
			// the answer without needing DO and DNSSEC records.
			AuthenticatedData: true,
		},
		Question: []dns.Question{{Name: qname, Qtype: qtype, Qclass: dns.ClassINET}},
	}
	if edns {
		m.SetEdns0(ednsBufSize, false)
	}
	return m
}

// exchange does one attempt with one nameserver: UDP, TCP if truncated,
// and once more without EDNS0 if the server does not understand it. It
// returns a NOERROR or NXDOMAIN response and its wire size, or a failure.
func (s *Stub) exchange(srv, qname string, qtype uint16) (*dns.Msg, int, *failure) {
	resp, size, f := s.exchangeUDPThenTCP(srv, newQuery(qname, qtype, true))
	if f != nil {
		return nil, 0, f
	}
	if resp.Rcode == dns.RcodeFormatError || resp.Rcode == dns.RcodeBadVers {
		// RFC 6891 §7: a responder without EDNS support answers FORMERR;
		// retry without the OPT record.
		resp, size, f = s.exchangeUDPThenTCP(srv, newQuery(qname, qtype, false))
		if f != nil {
			return nil, 0, f
		}
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return resp, size, nil
	case dns.RcodeServerFailure:
		s.servfails.Add(1)
		return nil, 0, &failure{kind: ErrServFail, msg: "server misbehaving", server: srv}
	case dns.RcodeFormatError:
		return nil, 0, &failure{kind: ErrFormErr, msg: "server answered FORMERR", server: srv}
	default:
		return nil, 0, &failure{kind: ErrRefused, msg: "server answered " + rcodeName(resp.Rcode), server: srv}
	}
}

func rcodeName(rc int) string {
	if n, ok := dns.RcodeToString[rc]; ok {
		return n
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func (s *Stub) exchangeUDPThenTCP(srv string, q *dns.Msg) (*dns.Msg, int, *failure) {
	wire, err := q.Pack()
	if err != nil {
		return nil, 0, &failure{kind: ErrInvalidName, msg: "cannot encode query: " + err.Error(), server: srv}
	}
	resp, size, truncated, f := s.exchangeUDP(srv, q, wire)
	if f != nil || !truncated {
		return resp, size, f
	}
	s.truncated.Add(1)
	return s.exchangeTCP(srv, q, wire)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, maxMsg); return &b }}

// header bits of the second flags octet... of the first: QR and TC.
const (
	bitQR = 0x80
	bitTC = 0x02
)

func (s *Stub) netFailure(srv string, err error) *failure {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.timeouts.Add(1)
		return &failure{kind: ErrTimeout, msg: "i/o timeout", server: srv}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.timeouts.Add(1)
		return &failure{kind: ErrTimeout, msg: "i/o timeout", server: srv}
	}
	return &failure{kind: ErrNetwork, msg: err.Error(), server: srv}
}

// exchangeUDP sends q once and reads datagrams until one answers it, the
// deadline passes, or a socket error (e.g. ICMP port unreachable) occurs.
// truncated reports a matching reply with TC set.
func (s *Stub) exchangeUDP(srv string, q *dns.Msg, wire []byte) (resp *dns.Msg, size int, truncated bool, f *failure) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	conn, err := s.dialer.DialContext(ctx, "udp", srv)
	if err != nil {
		return nil, 0, false, s.netFailure(srv, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, 0, false, s.netFailure(srv, err)
	}
	s.queries.Add(1)
	if _, err := conn.Write(wire); err != nil {
		return nil, 0, false, s.netFailure(srv, err)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	sawMalformed := false
	for {
		n, err := conn.Read(buf)
		if err != nil {
			f := s.netFailure(srv, err)
			if f.kind == ErrTimeout && sawMalformed {
				f = &failure{kind: ErrMalformed, msg: "malformed response", server: srv}
			}
			return nil, 0, false, f
		}
		p := buf[:n]
		if n < 12 || binary.BigEndian.Uint16(p) != q.Id || p[2]&bitQR == 0 {
			s.mismatched.Add(1)
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(p); err != nil {
			if p[2]&bitTC != 0 {
				// A truncated reply may end mid-record; TCP will tell.
				return nil, 0, true, nil
			}
			// Possibly a forgery with a guessed ID: keep listening, and
			// report it only if nothing better arrives.
			sawMalformed = true
			continue
		}
		if !matches(q, r) {
			s.mismatched.Add(1)
			continue
		}
		return r, n, r.Truncated, nil
	}
}

// exchangeTCP sends q over TCP (RFC 7766, RFC 1035 §4.2.2 framing). On a
// connection to the server there is no one to ignore: any mismatch is a
// malformed answer.
func (s *Stub) exchangeTCP(srv string, q *dns.Msg, wire []byte) (*dns.Msg, int, *failure) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	conn, err := s.dialer.DialContext(ctx, "tcp", srv)
	if err != nil {
		return nil, 0, s.netFailure(srv, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, 0, s.netFailure(srv, err)
	}
	out := make([]byte, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	copy(out[2:], wire)
	s.queries.Add(1)
	if _, err := conn.Write(out); err != nil {
		return nil, 0, s.netFailure(srv, err)
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		return nil, 0, s.netFailure(srv, err)
	}
	p := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(conn, p); err != nil {
		return nil, 0, s.netFailure(srv, err)
	}
	malformed := &failure{kind: ErrMalformed, msg: "malformed response", server: srv}
	if len(p) < 12 || binary.BigEndian.Uint16(p) != q.Id || p[2]&bitQR == 0 {
		return nil, 0, malformed
	}
	r := new(dns.Msg)
	if err := r.Unpack(p); err != nil || !matches(q, r) {
		return nil, 0, malformed
	}
	return r, len(p), nil
}

// matches reports whether r answers q: same opcode and question (names
// compared case-insensitively, RFC 4343). A header-only error reply (no
// question section, as some servers send for REFUSED) is accepted unless it
// claims NOERROR or NXDOMAIN, which would need the question to be trusted.
func matches(q, r *dns.Msg) bool {
	if r.Opcode != q.Opcode {
		return false
	}
	if len(r.Question) == 0 {
		return r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError
	}
	if len(r.Question) != 1 {
		return false
	}
	a, b := q.Question[0], r.Question[0]
	return a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// interpret turns a NOERROR or NXDOMAIN response into a result: it follows
// the CNAME chain from qname through the answer section and takes the
// qtype RRs at its end. size is the wire size of resp.
func interpret(resp *dns.Msg, qname string, qtype uint16, srv string, size int) result {
	minTTL := uint32(maxPositiveTTL / time.Second)
	cur := qname
	var rrs []dns.RR
	for hops := 0; ; hops++ {
		var next string
		var nextTTL uint32
		for _, rr := range resp.Answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, cur) {
				continue
			}
			if h.Rrtype == qtype {
				rrs = append(rrs, rr)
				minTTL = min(minTTL, h.Ttl)
			} else if c, ok := rr.(*dns.CNAME); ok && next == "" {
				next, nextTTL = c.Target, h.Ttl
			}
		}
		if len(rrs) > 0 || next == "" {
			break
		}
		if hops == maxCNAMEHops {
			return result{fail: &failure{kind: ErrCNAMEChain, msg: "CNAME chain too long", server: srv}}
		}
		minTTL = min(minTTL, nextTTL)
		cur = next
	}
	if resp.Rcode == dns.RcodeNameError || len(rrs) == 0 {
		return negative(resp, srv, minTTL)
	}
	a := &answer{ad: resp.AuthenticatedData}
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.TXT:
			var b strings.Builder
			for _, part := range v.Txt {
				b.WriteString(unescapeTXT(part))
			}
			a.strs = append(a.strs, b.String())
		case *dns.A:
			if ip4 := v.A.To4(); ip4 != nil {
				a.ips = append(a.ips, ip4)
			}
		case *dns.AAAA:
			if ip6 := v.AAAA.To16(); ip6 != nil {
				a.ips = append(a.ips, ip6)
			}
		case *dns.MX:
			a.mx = append(a.mx, net.MX{Host: RawName(v.Mx), Pref: v.Preference})
		case *dns.PTR:
			a.strs = append(a.strs, RawName(v.Ptr))
		}
	}
	if len(a.strs) == 0 && len(a.ips) == 0 && len(a.mx) == 0 {
		// RRs of the asked type whose RDATA miekg/dns could not type
		// (e.g. a 3-byte A record): nothing usable.
		return result{fail: &failure{kind: ErrMalformed, msg: "malformed records", server: srv}}
	}
	ttl := time.Duration(minTTL) * time.Second
	if size > maxCacheableMsg {
		ttl = 0
	}
	return result{ans: a, ttl: ttl}
}

// negative builds the NXDOMAIN/NODATA result and its cache lifetime per
// RFC 2308 §5: min(SOA TTL, SOA MINIMUM), also bounded by the TTLs of the
// CNAMEs that led there (minTTL).
func negative(resp *dns.Msg, srv string, minTTL uint32) result {
	var soa *dns.SOA
	for _, rr := range resp.Ns {
		if v, ok := rr.(*dns.SOA); ok {
			soa = v
			break
		}
	}
	if resp.Rcode == dns.RcodeSuccess && len(resp.Answer) == 0 && soa == nil &&
		!resp.Authoritative && !resp.RecursionAvailable {
		// A referral from a non-recursive server, not NODATA (the same
		// test as Go's net package).
		return result{fail: &failure{kind: ErrLameReferral, msg: "lame referral", server: srv}}
	}
	ttl := noSOANegativeTTL
	if soa != nil {
		ttl = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
	}
	ttl = min(ttl, maxNegativeTTL, time.Duration(minTTL)*time.Second)
	f := &failure{kind: ErrNoData, msg: "no such host", server: srv}
	if resp.Rcode == dns.RcodeNameError {
		f.kind = ErrNXDomain
	}
	return result{fail: f, ttl: ttl}
}

// unescapeTXT undoes the presentation-format escaping that miekg/dns applies
// to every TXT character-string it unpacks (`\"`, `\\` and `\DDD` for
// bytes outside printable ASCII), giving back the octets on the wire that
// RFC 7208 §3.3 and RFC 6376 §3.6.2.2 concatenate.
func unescapeTXT(s string) string {
	i := strings.IndexByte(s, '\\')
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 255 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		i++
		b = append(b, s[i])
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
