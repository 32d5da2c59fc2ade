package msghdr

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// idnaProfile converts U-labels to A-labels for comparison and lookup
// (RFC 5891 §5, UTS #46 non-transitional mapping, which also folds case and
// width so that "BANK.example", "bank.example" and fullwidth forms compare
// equal). xn-- labels are decoded and validated too, so a malformed A-label
// is as invalid as a malformed U-label. The DNS length limits are checked
// here as well (RFC 1035 §2.3.4).
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
)

// maxDomainInput bounds the octets handed to the IDNA code: no valid domain
// comes near it, and it keeps the per-address work small.
const maxDomainInput = 1024

// normalizeDomain turns a domain as written (without a trailing dot) into
// its lower-case A-label form, or reports why it is not a usable author
// domain (RFC 7489 §3.2 compares domains in this form, RFC 9989 likewise).
func normalizeDomain(raw string) (string, Problem) {
	if raw == "" {
		return "", ProblemNoDomain
	}
	ascii := true
	for i := 0; i < len(raw); i++ {
		if raw[i] >= 0x80 {
			ascii = false
			break
		}
	}
	idn := !ascii || strings.Contains(strings.ToLower(raw), "xn--")
	if len(raw) > maxDomainInput {
		if idn {
			return "", ProblemBadIDN
		}
		return "", ProblemBadDomain
	}
	if !utf8.ValidString(raw) {
		return "", ProblemBadIDN
	}
	if ascii {
		// Check LDH first so that an ASCII name with, say, '_' or '!' is a
		// bad domain rather than a bad IDN.
		if !validHostname(strings.ToLower(raw)) {
			return "", ProblemBadDomain
		}
	}
	a, err := idnaProfile.ToASCII(raw)
	if err != nil {
		if idn {
			return "", ProblemBadIDN
		}
		return "", ProblemBadDomain
	}
	a = strings.ToLower(a)
	if !validHostname(a) {
		if idn {
			return "", ProblemBadIDN
		}
		return "", ProblemBadDomain
	}
	return a, ""
}

// validHostname checks RFC 1123 §2.1 host name syntax on a lower-case ASCII
// name without a trailing dot: LDH labels of 1 to 63 octets not starting or
// ending with '-', at most 253 octets, and a top label that is not
// all-numeric (so that a dotted quad is not taken for a domain).
func validHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	top := labels[len(labels)-1]
	return strings.Trim(top, "0123456789") != ""
}

// isLenientDomainByte lists what a lenient address scanner typically
// accepts after '@' (letters, digits, '.', '-', '_' and any 8-bit octet).
func isLenientDomainByte(c byte) bool {
	return c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		'0' <= c && c <= '9' || c == '.' || c == '-' || c == '_'
}

// posDomain is an author domain with the offset where it was written.
type posDomain struct {
	pos    int
	domain string
}

// lenientDomains finds every "@domain" in s outside the skip spans (RFC 2047
// encoded words), the way a regular-expression based reader would, and
// returns the valid ones. It is used only for fields that are not valid
// RFC 5322 syntax, where such readers disagree with a strict parser.
func lenientDomains(s string, skip [][2]int) []posDomain {
	var out []posDomain
	k := 0
	for i := 0; i < len(s); i++ {
		for k < len(skip) && skip[k][1] <= i {
			k++
		}
		if k < len(skip) && skip[k][0] <= i {
			i = skip[k][1] - 1
			continue
		}
		if s[i] != '@' {
			continue
		}
		j := i + 1
		for j < len(s) && isLenientDomainByte(s[j]) {
			if k < len(skip) && j >= skip[k][0] {
				break
			}
			j++
		}
		d := strings.TrimRight(s[i+1:j], ".")
		if a, p := normalizeDomain(d); p == "" {
			out = append(out, posDomain{pos: i + 1, domain: a})
		}
		i = j - 1
	}
	return out
}
