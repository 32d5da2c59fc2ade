// Package resolver is the one DNS interface that SPF (RFC 7208 §4.6.4),
// DKIM (RFC 6376 §3.6.2) and DMARC (RFC 7489 §6.6.3) lookups go through.
//
// The interface is intentionally a subset of *net.Resolver, so that
// net.DefaultResolver satisfies it, and so that policy code never needs to
// know whether it talks to the caching stub resolver (Stub), the map-backed
// Fake used by tests, or anything else.
//
// Errors follow the standard library's convention: every failure is a
// *net.DNSError. IsNotFound marks NXDOMAIN and NODATA (a "void lookup" in
// RFC 7208 §4.6.4 terms), IsTimeout/IsTemporary mark temporary failures
// (SERVFAIL, timeouts, network errors), and anything else is permanent.
// go-msgauth's DKIM verifier relies on exactly this: a lookup error that is
// not a net.Error with Temporary() true is treated as a permanent failure.
package resolver

import (
	"context"
	"errors"
	"net"
)

// Resolver is the DNS lookup surface used by every policy check.
type Resolver interface {
	// LookupTXT returns one string per TXT record, each record's
	// character-strings concatenated without separators (RFC 7208 §3.3).
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupIP looks up A ("ip4") or AAAA ("ip6") records only; SPF counts a
	// lookup of the client's address family as void when it returns nothing
	// (RFC 7208 §4.6.4), which a combined A+AAAA lookup would hide.
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
	// LookupMX returns the MX records of name, unsorted.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupAddr returns the PTR names for an IP address (RFC 7208 §5.5).
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Authenticator is implemented by resolvers that can report whether an answer
// carried the AD (authentic data) bit from a validating resolver, RFC 4035
// §3.2.3. DKIM key reports ("key secure") and DMARC reports use it.
type Authenticator interface {
	LookupTXTAuthentic(ctx context.Context, name string) (txt []string, authentic bool, err error)
}

// IsTemporary reports whether err is a temporary DNS failure (timeout,
// SERVFAIL, network error): the caller should report temperror, not
// permerror.
func IsTemporary(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.IsTimeout || de.IsTemporary
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsNotFound reports whether err means the name has no records of the asked
// type (NXDOMAIN or NODATA).
func IsNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// NotFound returns the error for NXDOMAIN/NODATA for name.
func NotFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Temporary returns the error for a SERVFAIL-like temporary failure.
func Temporary(name, why string) error {
	return &net.DNSError{Err: why, Name: name, IsTemporary: true}
}

// Timeout returns the error for a query that got no answer in time.
func Timeout(name string) error {
	return &net.DNSError{Err: "i/o timeout", Name: name, IsTimeout: true, IsTemporary: true}
}
