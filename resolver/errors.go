package resolver

import (
	"context"
	"errors"
	"net"
)

// Sentinel errors carried in net.DNSError.UnwrapErr by Stub, so that callers
// can tell the causes apart with errors.Is while the *net.DNSError flags
// (IsNotFound, IsTimeout, IsTemporary) keep driving the temperror/permerror
// decision (RFC 7208 §5, RFC 6376 §6.1.2).
var (
	// ErrNXDomain: the name does not exist (RCODE 3). IsNotFound.
	ErrNXDomain = errors.New("resolver: no such domain")
	// ErrNoData: the name exists but has no records of the asked type
	// (RFC 2308 §2.2). IsNotFound.
	ErrNoData = errors.New("resolver: no records of the requested type")
	// ErrServFail: the upstream answered SERVFAIL (RCODE 2). Temporary.
	ErrServFail = errors.New("resolver: server failure")
	// ErrRefused: the upstream answered REFUSED, NOTIMP or another RCODE
	// that says nothing about the name. Temporary.
	ErrRefused = errors.New("resolver: query refused")
	// ErrTimeout: no usable answer before the per-attempt timeout or the
	// caller's deadline. Timeout and temporary.
	ErrTimeout = errors.New("resolver: timeout")
	// ErrNetwork: a socket error talking to the nameserver. Temporary.
	ErrNetwork = errors.New("resolver: network error")
	// ErrLameReferral: a NOERROR answer without data, SOA, AA or RA, i.e.
	// the nameserver is not a recursive resolver. Temporary.
	ErrLameReferral = errors.New("resolver: lame referral")
	// ErrCNAMEChain: the CNAME chain in the answer is longer than
	// maxCNAMEHops or loops. Temporary, like Fake's "CNAME loop", so that
	// tests written against Fake hold against Stub.
	ErrCNAMEChain = errors.New("resolver: CNAME chain too long")
	// ErrFormErr: the nameserver answered FORMERR even to a query without
	// EDNS0 (RFC 6891 §7). Permanent.
	ErrFormErr = errors.New("resolver: query rejected as malformed")
	// ErrMalformed: the response could not be parsed or did not match the
	// question. Permanent.
	ErrMalformed = errors.New("resolver: malformed response")
	// ErrInvalidName: the name to look up is not a valid domain name or
	// the address not a valid IP literal. Permanent; nothing was sent.
	ErrInvalidName = errors.New("resolver: invalid name")
	// ErrConfig: StubConfig or /etc/resolv.conf is unusable.
	ErrConfig = errors.New("resolver: invalid configuration")
)

// failure is the outcome of a failed resolution, shared by every caller of a
// coalesced query and by the negative cache. It becomes a fresh
// *net.DNSError per caller (see dnsError) so that each error carries the
// name as that caller spelled it and nobody can mutate a shared error.
type failure struct {
	kind   error // one of the sentinels above
	msg    string
	server string
}

func (f *failure) dnsError(name string) *net.DNSError {
	// Server stays empty: the error's text ends up in Authentication-Results
	// reasons, and our resolver's address is nobody's business. The
	// failure itself keeps it for Stats and debugging.
	e := &net.DNSError{Err: f.msg, Name: name, UnwrapErr: f.kind}
	switch f.kind {
	case ErrNXDomain, ErrNoData:
		e.IsNotFound = true
	case ErrTimeout:
		e.IsTimeout, e.IsTemporary = true, true
	case ErrServFail, ErrRefused, ErrNetwork, ErrLameReferral, ErrCNAMEChain:
		e.IsTemporary = true
	}
	return e
}

// temporary reports whether another nameserver or another round may give a
// better answer.
func (f *failure) temporary() bool {
	switch f.kind {
	case ErrTimeout, ErrServFail, ErrRefused, ErrNetwork, ErrLameReferral:
		return true
	}
	return false
}

// ctxError turns a context error into the *net.DNSError a caller gets when
// it gives up waiting. Both cancellation and deadline are temporary: the
// name was not shown to be absent. errors.Is(err, context.Canceled) and
// errors.Is(err, context.DeadlineExceeded) hold.
func ctxError(name string, err error) *net.DNSError {
	return &net.DNSError{
		Err: err.Error(), Name: name, UnwrapErr: err,
		IsTimeout: errors.Is(err, context.DeadlineExceeded), IsTemporary: true,
	}
}
