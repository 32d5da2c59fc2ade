package msghdr

// Problem names one oddity found in the From fields. The values are stable,
// lower-case identifiers suitable for logs and for an Authentication-Results
// comment; Description gives a sentence for humans.
type Problem string

// Problems reported by ParseFrom. Each is reported at most once per call, in
// the order in which it was first seen.
const (
	// ProblemNoFrom: the message has no From field. RFC 5322 §3.6 requires
	// exactly one, and RFC 7489 §6.6.1 leaves such messages out of scope.
	ProblemNoFrom Problem = "no-from"
	// ProblemMultipleFields: more than one From field (RFC 5322 §3.6 allows
	// one; RFC 7489 §6.6.1 says such messages are typically rejected).
	ProblemMultipleFields Problem = "multiple-from-fields"
	// ProblemEmptyField: a From field with nothing but white space and
	// comments.
	ProblemEmptyField Problem = "empty-from"
	// ProblemNoAddress: a display name, group name or "<>" without any
	// mailbox address.
	ProblemNoAddress Problem = "no-address"
	// ProblemMultipleAddresses: one From field lists more than one mailbox
	// (RFC 5322 §3.6.2 then requires a Sender field; RFC 7489 §6.6.1).
	ProblemMultipleAddresses Problem = "multiple-addresses"
	// ProblemMultipleDomains: the author addresses have more than one
	// distinct domain (RFC 7489 §6.6.1, RFC 9989 §4.4).
	ProblemMultipleDomains Problem = "multiple-domains"
	// ProblemNoDomain: an address has no "@domain" part.
	ProblemNoDomain Problem = "no-domain"
	// ProblemDomainLiteral: an address uses a domain literal such as
	// [192.0.2.1], for which no DMARC policy can exist.
	ProblemDomainLiteral Problem = "domain-literal"
	// ProblemBadDomain: a domain is not a usable host name (RFC 1123 LDH
	// labels of 1-63 octets, at most 253 octets, not all-numeric at the top).
	ProblemBadDomain Problem = "bad-domain"
	// ProblemBadIDN: an internationalized domain (U-label or xn-- A-label)
	// fails IDNA2008/UTS #46 validation (RFC 5891).
	ProblemBadIDN Problem = "bad-idn"
	// ProblemTrailingDot: a domain ends in ".", which RFC 5322 does not
	// allow; the dot was removed.
	ProblemTrailingDot Problem = "trailing-dot"
	// ProblemGroup: the field uses group syntax ("name: a@b, c@d;"), which
	// RFC 5322 §3.6.2 does not allow in From (RFC 6854 does, experimentally).
	ProblemGroup Problem = "group"
	// ProblemEmptyGroup: a group without any member.
	ProblemEmptyGroup Problem = "empty-group"
	// ProblemRoute: an obsolete source route (<@relay,@relay:user@domain>,
	// RFC 5322 §4.4); the route domains are not author domains.
	ProblemRoute Problem = "source-route"
	// ProblemObsolete: other obsolete syntax of RFC 5322 §4.4 (white space
	// or comments inside addresses, quoted words joined by dots, empty list
	// elements).
	ProblemObsolete Problem = "obsolete-syntax"
	// ProblemLocalPartDots: a local part starts or ends with a dot or has
	// two dots in a row, which RFC 5322 §3.2.3 does not allow; the address
	// is otherwise usable.
	ProblemLocalPartDots Problem = "local-part-dots"
	// ProblemSyntax: the field is not valid RFC 5322 syntax. Domains then
	// also holds every domain a lenient reader could have taken.
	ProblemSyntax Problem = "syntax"
	// ProblemUnbalanced: an unterminated quoted string, comment, domain
	// literal or angle address, or a stray closing bracket.
	ProblemUnbalanced Problem = "unbalanced"
	// ProblemEncodedWord: an RFC 2047 encoded word where an address was
	// expected; encoded words may only appear in display names (RFC 2047 §5).
	ProblemEncodedWord Problem = "encoded-word-in-address"
	// ProblemControl: control characters, NUL, or a CR or LF that is not
	// part of folding white space.
	ProblemControl Problem = "control-characters"
	// ProblemBadUTF8: 8-bit octets that are not UTF-8 (RFC 6532 §3.2).
	ProblemBadUTF8 Problem = "invalid-utf8"
	// ProblemDisplayNameDomain: a display name contains something that looks
	// like an address in a domain other than the author domain, such as
	// "ceo@bank.example" <evil@attacker.example>. It does not change the
	// author domain; it is a common spoofing sign that callers may score.
	ProblemDisplayNameDomain Problem = "display-name-domain"
)

var problemText = map[Problem]string{
	ProblemNoFrom:            "the message has no From header field",
	ProblemMultipleFields:    "the message has more than one From header field",
	ProblemEmptyField:        "the From header field is empty",
	ProblemNoAddress:         "the From header field contains a name without an address",
	ProblemMultipleAddresses: "the From header field lists more than one address",
	ProblemMultipleDomains:   "the From header field names more than one author domain",
	ProblemNoDomain:          "a From address has no domain",
	ProblemDomainLiteral:     "a From address uses a domain literal instead of a domain name",
	ProblemBadDomain:         "a From address has a domain that is not a valid host name",
	ProblemBadIDN:            "a From address has an invalid internationalized domain name",
	ProblemTrailingDot:       "a From domain ends with a dot",
	ProblemGroup:             "the From header field uses group syntax",
	ProblemEmptyGroup:        "the From header field contains an empty group",
	ProblemRoute:             "a From address contains an obsolete source route",
	ProblemObsolete:          "the From header field uses obsolete syntax",
	ProblemLocalPartDots:     "a From local part has a leading, trailing or doubled dot",
	ProblemSyntax:            "the From header field is not valid RFC 5322 syntax",
	ProblemUnbalanced:        "the From header field has unbalanced quotes, parentheses or brackets",
	ProblemEncodedWord:       "the From header field has an encoded word where an address belongs",
	ProblemControl:           "the From header field contains control characters",
	ProblemBadUTF8:           "the From header field contains 8-bit data that is not UTF-8",
	ProblemDisplayNameDomain: "a From display name contains an address in another domain",
}

// Description returns a short English sentence describing p, for logs and
// SMTP reply texts.
func (p Problem) Description() string {
	if s, ok := problemText[p]; ok {
		return s
	}
	return "unknown From header field problem " + string(p)
}

// String returns the identifier.
func (p Problem) String() string { return string(p) }
