package dmarc

import (
	"context"
	"errors"
	"strings"

	"github.com/authmilter/authmilter/resolver"
)

// Source gives the TXT records at a name (one string per record, its
// character-strings concatenated, RFC 7489 §6.6.3 via RFC 7208 §3.3).
// Errors are classified with resolver.IsTemporary (→ temperror) and
// resolver.IsNotFound (→ no record); anything else counts as "no record"
// too, like a permanent DNS error (RFC 7489 §6.6.3 step 2). Tests use a map;
// production uses ResolverSource.
type Source interface {
	TXT(name string) ([]string, error)
}

// ExistenceSource is the optional part of a Source that tells whether the
// author domain exists, for np= (RFC 9989 §4.7): a domain is non-existent
// when a query for it answers NXDOMAIN (RFC 9989 §3.2, "Non-existent
// Domains", by reference to RFC 8020). Without it, np= never
// applies and sp= is used instead.
type ExistenceSource interface {
	Source
	// Exists reports whether name exists in the DNS. A temporary failure
	// returns an error for which resolver.IsTemporary holds.
	Exists(name string) (bool, error)
}

// ResolverSource adapts a resolver.Resolver with a context (deadline,
// cancellation) to a Source. It implements ExistenceSource.
func ResolverSource(ctx context.Context, r resolver.Resolver) Source {
	return &resolverSource{ctx: ctx, r: r}
}

type resolverSource struct {
	ctx context.Context
	r   resolver.Resolver
}

func (s *resolverSource) TXT(name string) ([]string, error) {
	return s.r.LookupTXT(s.ctx, name)
}

// Exists asks for A records of name. Any answer, or NODATA, means the
// name exists; NXDOMAIN means it does not (RFC 8020 §2, RFC 9989 §3.2). The resolver
// package's Stub tells the two apart (resolver.ErrNXDomain /
// resolver.ErrNoData); a resolver that does not (net.Resolver, the
// test Fake) gets the RFC 9091 §2.7 reading instead: a name without A,
// AAAA and MX records does not exist.
func (s *resolverSource) Exists(name string) (bool, error) {
	_, err := s.r.LookupIP(s.ctx, "ip4", name)
	switch {
	case err == nil:
		return true, nil
	case resolver.IsTemporary(err):
		return false, err
	case errors.Is(err, resolver.ErrNXDomain):
		return false, nil
	case errors.Is(err, resolver.ErrNoData):
		return true, nil
	case !resolver.IsNotFound(err):
		return true, nil // permanent oddity: do not claim non-existence
	}
	if _, err := s.r.LookupIP(s.ctx, "ip6", name); err == nil || !resolver.IsNotFound(err) {
		if err != nil && resolver.IsTemporary(err) {
			return false, err
		}
		return true, nil
	}
	if _, err := s.r.LookupMX(s.ctx, name); err == nil || !resolver.IsNotFound(err) {
		if err != nil && resolver.IsTemporary(err) {
			return false, err
		}
		return true, nil
	}
	return false, nil
}

// normalize lowercases a domain and removes leading and trailing dots
// (RFC 7489 §3.1: names compare case-insensitively; a trailing dot is the
// root).
func normalize(d string) string {
	return strings.ToLower(strings.Trim(d, "."))
}

// validDomain checks the shape of a DNS name (RFC 1035 §2.3.4 lengths, no
// empty labels). It does not enforce the LDH rule: DMARC queries any name
// DNS can carry.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; c <= ' ' || c >= 0x7f || c == '@' || c == ';' || c == '"' || c == '\\' {
				return false
			}
		}
	}
	return true
}
