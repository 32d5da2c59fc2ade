// Package dmarc implements DMARC (RFC 7489, and its successor RFC 9989,
// "DMARCbis"): record parsing, policy discovery, the organizational domain,
// identifier alignment and the per-message DMARC result.
//
// The package decides and does no I/O of its own: TXT records come from a
// Source (a map in tests, the shared resolver in production), and the SPF and
// DKIM results are inputs. Evaluate is a pure function of those.
//
// Two modes exist because receivers are in transition:
//
//   - ModeRFC9989 (default): policy discovery and the organizational domain
//     both come from the DNS Tree Walk (RFC 9989 §4.10, §4.10.1, §4.10.2);
//     psd=, np= and t= are understood; a missing p= means p=none.
//   - ModeRFC7489: policy at _dmarc.<author domain>, falling back to
//     _dmarc.<organizational domain> (RFC 7489 §6.6.3), where the
//     organizational domain is the Public Suffix List registrable domain
//     (RFC 7489 §3.2). psd=, np= and t= are unknown tags there and ignored.
//
// RFC 9989 section numbers cited here follow the final draft text
// (ietf-wg-dmarc/draft-ietf-dmarc-dmarcbis): §3.2 definitions, §4.4
// Identifier Alignment, §4.7 record format, §4.8 formal definition, §4.10
// DNS Tree Walk, §4.10.1 Policy Discovery, §4.10.2 Identifier Alignment
// Evaluation.
//
// Result tokens (RFC 7489 §11.2): "none" when no record applies, when the
// only records at a name were several (RFC 7489 §6.6.3 step 5; RFC 9989
// §4.10 discards them and walks on), or when the record has no usable
// policy and no usable rua= (RFC 7489 §6.6.3 step 6); "permerror" for a
// record with a duplicate tag, an invalid author domain, or when the DNS
// lookup limit (Evaluator.MaxLookups) is reached before a verdict;
// "temperror" when a DNS query needed for the verdict failed temporarily.
// np= needs to know whether the author domain exists: the Source must also
// be an ExistenceSource (ResolverSource is), otherwise sp= applies.
//
// pct= is honoured in both modes (RFC 7489 §6.6.4): RFC 9989 dropped it in
// favour of t=, but records in the wild still use it to roll a policy
// out, and honouring it only ever softens the disposition.
package dmarc

import "errors"

// Mode selects the DMARC specification Evaluate follows.
type Mode string

const (
	// ModeRFC9989 is DMARCbis: DNS Tree Walk, psd=, np=, t=.
	ModeRFC9989 Mode = "rfc9989"
	// ModeRFC7489 is the original DMARC with a Public Suffix List.
	ModeRFC7489 Mode = "rfc7489"
)

// Policy is a requested message handling, as the p=, sp= and np= tags
// spell it (RFC 7489 §6.3, RFC 9989 §4.7).
type Policy string

// The three policies. Their string values are the tag values and the
// policy.* property values of RFC 8601 / RFC 7489 §11.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Result tokens of the RFC 8601 "dmarc" method (RFC 7489 §11.2).
const (
	ResultPass      = "pass"
	ResultFail      = "fail"
	ResultNone      = "none"
	ResultTempError = "temperror"
	ResultPermError = "permerror"
)

// Sentinel errors. ParseRecord wraps them with %w and a detail.
var (
	// ErrNotDMARC: the TXT record does not start with v=DMARC1. Such records
	// are discarded during discovery (RFC 7489 §6.6.3 step 2, RFC 9989
	// §4.10 step 2); they are not "a record" at all.
	ErrNotDMARC = errors.New("dmarc: not a DMARC record")
	// ErrSyntax: the record is a DMARC record but its tag list is broken
	// beyond use (a duplicate tag, RFC 7489 §6.4 via RFC 6376 §3.2).
	ErrSyntax = errors.New("dmarc: record syntax error")
	// ErrNoPolicy: p= is missing or invalid, or sp=/np= is invalid, and
	// there is no usable rua= that would turn the record into p=none
	// (RFC 7489 §6.6.3 step 6, RFC 9989 §4.10.1): no DMARC processing.
	ErrNoPolicy = errors.New("dmarc: record has no usable policy")
	// ErrPSL: a public suffix list file could not be read.
	ErrPSL = errors.New("dmarc: public suffix list")
)
