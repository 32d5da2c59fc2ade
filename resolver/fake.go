package resolver

import (
	"context"
	"net"
	"strings"
	"sync"
)

// Fake is a map-backed Resolver for tests in every package. It lives in a
// non-test file so that policy, milter and command tests share one
// implementation. Names are case-insensitive and may be given with or
// without the trailing dot. A name with no entry of the asked type answers
// NXDOMAIN (no entry at all) or NODATA (other types exist), both as
// IsNotFound. Names listed in Timeout fail with a timeout for every type;
// names in Fail fail with SERVFAIL. Fake is safe for concurrent use once
// built; Set may be called concurrently with lookups.
type Fake struct {
	mu      sync.RWMutex
	TXT     map[string][]string
	A       map[string][]string // IPv4 literals
	AAAA    map[string][]string // IPv6 literals
	MX      map[string][]*net.MX
	PTR     map[string][]string // keyed by IP literal ("192.0.2.1") or reverse name
	CNAME   map[string]string   // followed (one or more levels) before lookups
	Timeout map[string]bool     // every query for the name times out
	// TimeoutTypes makes only some types time out: name -> set of "TXT",
	// "A", "AAAA", "MX", "PTR".
	TimeoutTypes map[string]map[string]bool
	Fail         map[string]bool // SERVFAIL
	// Authentic names answer with the AD bit set.
	Authentic map[string]bool
	// Queries counts lookups per "TYPE name" for tests that check limits.
	queries map[string]int
}

// NewFake returns an empty Fake ready for Set calls.
func NewFake() *Fake {
	return &Fake{
		TXT: map[string][]string{}, A: map[string][]string{}, AAAA: map[string][]string{},
		MX: map[string][]*net.MX{}, PTR: map[string][]string{}, CNAME: map[string]string{},
		Timeout: map[string]bool{}, TimeoutTypes: map[string]map[string]bool{},
		Fail: map[string]bool{}, Authentic: map[string]bool{}, queries: map[string]int{},
	}
}

func canon(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// AddTXT adds a TXT record to name.
func (f *Fake) AddTXT(name string, txt ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.TXT == nil {
		f.TXT = map[string][]string{}
	}
	f.TXT[canon(name)] = append(f.TXT[canon(name)], txt...)
}

// AddA adds A or AAAA records (by the literal's family) to name.
func (f *Fake) AddA(name string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip != nil && ip.To4() != nil {
			if f.A == nil {
				f.A = map[string][]string{}
			}
			f.A[canon(name)] = append(f.A[canon(name)], s)
		} else {
			if f.AAAA == nil {
				f.AAAA = map[string][]string{}
			}
			f.AAAA[canon(name)] = append(f.AAAA[canon(name)], s)
		}
	}
}

// AddMX adds an MX record to name.
func (f *Fake) AddMX(name string, pref uint16, host string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.MX == nil {
		f.MX = map[string][]*net.MX{}
	}
	f.MX[canon(name)] = append(f.MX[canon(name)], &net.MX{Host: host, Pref: pref})
}

// Queries returns how many lookups of typ ("TXT", "A", ...) were made for name.
func (f *Fake) Queries(typ, name string) int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.queries[typ+" "+canon(name)]
}

// exists reports whether name has any record at all (to tell NODATA from
// NXDOMAIN; both are IsNotFound, but tests may care about the text).
func (f *Fake) exists(n string) bool {
	return len(f.TXT[n]) > 0 || len(f.A[n]) > 0 || len(f.AAAA[n]) > 0 || len(f.MX[n]) > 0 || len(f.PTR[n]) > 0
}

// resolve counts the query as "typ countAs", follows CNAMEs (bounded) and
// applies failure injection. It must be called with f.mu held for writing.
func (f *Fake) resolve(ctx context.Context, typ, name, countAs string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", ctxError(name, err)
	}
	n := canon(name)
	if f.queries == nil {
		f.queries = map[string]int{}
	}
	f.queries[typ+" "+canon(countAs)]++
	for i := 0; i < 8; i++ {
		if f.Timeout[n] || f.TimeoutTypes[n][typ] {
			return "", Timeout(name)
		}
		if f.Fail[n] {
			return "", Temporary(name, "server misbehaving")
		}
		if c, ok := f.CNAME[n]; ok {
			n = canon(c)
			continue
		}
		return n, nil
	}
	return "", Temporary(name, "CNAME loop")
}

// LookupTXT implements Resolver.
func (f *Fake) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, _, err := f.LookupTXTAuthentic(ctx, name)
	return txt, err
}

// LookupTXTAuthentic implements Authenticator.
func (f *Fake) LookupTXTAuthentic(ctx context.Context, name string) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve(ctx, "TXT", name, name)
	if err != nil {
		return nil, false, err
	}
	if len(f.TXT[n]) == 0 {
		return nil, false, NotFound(name)
	}
	return append([]string(nil), f.TXT[n]...), f.Authentic[n], nil
}

// LookupIP implements Resolver; network is "ip4", "ip6" or "ip".
func (f *Fake) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var lists [][]string
	var n string
	var err error
	switch network {
	case "ip4":
		n, err = f.resolve(ctx, "A", host, host)
		lists = [][]string{f.A[n]}
	case "ip6":
		n, err = f.resolve(ctx, "AAAA", host, host)
		lists = [][]string{f.AAAA[n]}
	default:
		n, err = f.resolve(ctx, "A", host, host)
		lists = [][]string{f.A[n], f.AAAA[n]}
	}
	if err != nil {
		return nil, err
	}
	var ips []net.IP
	for _, l := range lists {
		for _, s := range l {
			if ip := net.ParseIP(s); ip != nil {
				ips = append(ips, ip)
			}
		}
	}
	if len(ips) == 0 {
		return nil, NotFound(host)
	}
	return ips, nil
}

// LookupMX implements Resolver.
func (f *Fake) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.resolve(ctx, "MX", name, name)
	if err != nil {
		return nil, err
	}
	if len(f.MX[n]) == 0 {
		return nil, NotFound(name)
	}
	out := make([]*net.MX, len(f.MX[n]))
	for i, mx := range f.MX[n] {
		c := *mx
		out[i] = &c
	}
	return out, nil
}

// LookupAddr implements Resolver. PTR entries may be keyed by the IP literal
// or by the in-addr.arpa/ip6.arpa name; so may Timeout, TimeoutTypes, Fail
// and CNAME entries. The IP-literal key is used when any of these maps has
// it. Queries("PTR", addr) counts the lookup under addr as given.
func (f *Fake) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := addr
	if ip := net.ParseIP(addr); ip != nil && !f.hasKey(canon(addr)) {
		key = ReverseName(ip)
	}
	n, err := f.resolve(ctx, "PTR", key, addr)
	if err != nil {
		return nil, err
	}
	if len(f.PTR[n]) == 0 {
		return nil, NotFound(addr)
	}
	return append([]string(nil), f.PTR[n]...), nil
}

// hasKey reports whether any map that LookupAddr consults has key n.
func (f *Fake) hasKey(n string) bool {
	_, p := f.PTR[n]
	_, c := f.CNAME[n]
	_, tt := f.TimeoutTypes[n]
	return p || c || tt || f.Timeout[n] || f.Fail[n]
}

// FakeNode is a snapshot of what a Fake holds for one owner name, without
// following CNAMEs: what an authoritative server built on a Fake (package
// dnstest) needs to answer a question. Slices are copies.
type FakeNode struct {
	// Exists is false when the name has no record of any type and no
	// CNAME: a server answers NXDOMAIN for it, NODATA otherwise.
	Exists    bool
	CNAME     string // target as stored ("" = none)
	TXT       []string
	A, AAAA   []net.IP
	MX        []net.MX
	PTR       []string
	Timeout   bool            // every type times out
	Timeouts  map[string]bool // types ("TXT", "A", ...) that time out
	Fail      bool
	Authentic bool
}

// TimesOut reports whether a query of typ ("TXT", "A", ...) for the node
// gets no answer.
func (n FakeNode) TimesOut(typ string) bool { return n.Timeout || n.Timeouts[typ] }

// Node returns the snapshot for name. For an in-addr.arpa or ip6.arpa name,
// entries keyed by the IP literal (as LookupAddr accepts them) are merged
// in: PTR, CNAME from the literal key win, flags are OR-ed. Node does not
// count a query; see CountQuery.
func (f *Fake) Node(name string) FakeNode {
	f.mu.RLock()
	defer f.mu.RUnlock()
	keys := []string{canon(name)}
	if ip, ok := parseReverseName(keys[0]); ok {
		keys = append(f.literalKeys(ip), keys...)
	}
	var nd FakeNode
	for _, k := range keys {
		if nd.CNAME == "" {
			nd.CNAME = f.CNAME[k]
		}
		if len(nd.PTR) == 0 {
			nd.PTR = append([]string(nil), f.PTR[k]...)
		}
		nd.Timeout = nd.Timeout || f.Timeout[k]
		nd.Fail = nd.Fail || f.Fail[k]
		nd.Authentic = nd.Authentic || f.Authentic[k]
		for t, on := range f.TimeoutTypes[k] {
			if on {
				if nd.Timeouts == nil {
					nd.Timeouts = map[string]bool{}
				}
				nd.Timeouts[t] = true
			}
		}
	}
	n := keys[len(keys)-1]
	nd.TXT = append([]string(nil), f.TXT[n]...)
	for _, s := range f.A[n] {
		if ip := net.ParseIP(s).To4(); ip != nil {
			nd.A = append(nd.A, ip)
		}
	}
	for _, s := range f.AAAA[n] {
		if ip := net.ParseIP(s); ip != nil && ip.To4() == nil {
			nd.AAAA = append(nd.AAAA, ip)
		}
	}
	for _, mx := range f.MX[n] {
		nd.MX = append(nd.MX, *mx)
	}
	nd.Exists = nd.CNAME != "" || len(nd.PTR) > 0 || f.exists(n)
	return nd
}

// literalKeys returns the keys of f's maps that spell ip as a literal
// ("192.0.2.1", "2001:db8::1", or any other spelling that parses to ip).
func (f *Fake) literalKeys(ip net.IP) []string {
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] && ip.Equal(net.ParseIP(k)) {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, m := range []map[string]bool{f.Timeout, f.Fail, f.Authentic} {
		for k := range m {
			add(k)
		}
	}
	for k := range f.PTR {
		add(k)
	}
	for k := range f.CNAME {
		add(k)
	}
	for k := range f.TimeoutTypes {
		add(k)
	}
	return out
}

// CountQuery records one query of typ for name, as Queries reports it.
// Servers that serve a Fake over DNS call it once per question, so that
// tests can count lookups end to end.
func (f *Fake) CountQuery(typ, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queries == nil {
		f.queries = map[string]int{}
	}
	f.queries[typ+" "+canon(name)]++
}

// parseReverseName turns an in-addr.arpa or ip6.arpa name (lower-case, no
// trailing dot) back into the address ReverseName built it from.
func parseReverseName(n string) (net.IP, bool) {
	if rest, ok := strings.CutSuffix(n, ".in-addr.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) != 4 {
			return nil, false
		}
		ip := net.ParseIP(p[3] + "." + p[2] + "." + p[1] + "." + p[0]).To4()
		return ip, ip != nil
	}
	if rest, ok := strings.CutSuffix(n, ".ip6.arpa"); ok {
		p := strings.Split(rest, ".")
		if len(p) != 32 {
			return nil, false
		}
		ip := make(net.IP, 16)
		for i, nib := range p {
			if len(nib) != 1 {
				return nil, false
			}
			v := strings.IndexByte("0123456789abcdef", nib[0])
			if v < 0 {
				return nil, false
			}
			// p[0] is the low nibble of the last byte.
			b := 15 - i/2
			if i%2 == 0 {
				ip[b] |= byte(v)
			} else {
				ip[b] |= byte(v) << 4
			}
		}
		return ip, true
	}
	return nil, false
}

// ReverseName returns the in-addr.arpa or ip6.arpa name for ip, without the
// trailing dot (RFC 1035 §3.5, RFC 3596 §2.5).
func ReverseName(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return net.IPv4(v4[3], v4[2], v4[1], v4[0]).String() + ".in-addr.arpa"
	}
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 72)
	ip16 := ip.To16()
	for i := len(ip16) - 1; i >= 0; i-- {
		b = append(b, hexd[ip16[i]&0xf], '.', hexd[ip16[i]>>4], '.')
	}
	return string(b) + "ip6.arpa"
}
