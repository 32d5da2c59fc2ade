package dkim

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Tag is one tag=value pair of a DKIM tag-list, in the order it appeared.
// Value is trimmed of surrounding FWS but otherwise raw (RFC 6376 §3.2).
type Tag struct {
	Name, Value string
}

// Signature is a parsed DKIM-Signature header field value (RFC 6376 §3.5).
// Values that the RFC says ignore whitespace (b=, bh=, d=, s=, h=, a=, c=)
// have FWS removed.
type Signature struct {
	Version          string   // v=, must be "1"
	Algorithm        string   // a=, lower-cased, e.g. "rsa-sha256"
	B                string   // b=, base64 with FWS removed
	BodyHash         string   // bh=, base64 with FWS removed
	HeaderCanon      string   // c= header part, lower-cased; "simple" by default
	BodyCanon        string   // c= body part, lower-cased; "simple" by default
	Domain           string   // d= (SDID)
	SignedHeaders    []string // h=, in order, as written
	Identifier       string   // i= after dkim-quoted-printable decoding; "@"+d when absent
	HasBodyLength    bool     // l= present
	BodyLength       int64    // l=
	QueryMethods     []string // q=; ["dns/txt"] when absent
	Selector         string   // s=
	HasTimestamp     bool     // t= present
	Timestamp        int64    // t=, seconds since the epoch
	HasExpiration    bool     // x= present
	Expiration       int64    // x=, seconds since the epoch
	Tags             []Tag    // every tag, in order, raw
	identifierIsAuto bool
}

// maxTimeDigits is the longest t=/x= value accepted: RFC 6376 §3.5 says 12
// digits is enough until AD 200,000 and verifiers may reject longer ones.
const maxTimeDigits = 12

// parseTagList parses a DKIM tag-list (RFC 6376 §3.2):
//
//	tag-list  =  tag-spec *( ";" tag-spec ) [ ";" ]
//	tag-spec  =  [FWS] tag-name [FWS] "=" [FWS] tag-value [FWS]
//	tag-name  =  ALPHA *ALNUMPUNC
//	tag-value =  [ tval *( 1*(WSP / FWS) tval ) ]   ; tval = 1*VALCHAR
//
// Duplicate tag names make the whole list invalid (§3.2). An empty list
// (only FWS) yields no tags and no error; key records use that for "".
func parseTagList(s string) ([]Tag, error) {
	var tags []Tag
	parts := strings.Split(s, ";")
	for i, part := range parts {
		if trimFWS(part) == "" {
			// Only a trailing ";" (optionally followed by FWS) is
			// allowed by the grammar; an empty list is tolerated too.
			if i == len(parts)-1 || (len(parts) == 1) {
				continue
			}
			return tags, fmt.Errorf("%w: empty tag-spec", ErrSyntax)
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return tags, fmt.Errorf("%w: tag-spec %q has no '='", ErrSyntax, clip(trimFWS(part)))
		}
		name = trimFWS(name)
		if !validTagName(name) {
			return tags, fmt.Errorf("%w: invalid tag name %q", ErrSyntax, clip(name))
		}
		value = trimFWS(value)
		if err := checkTagValue(value); err != nil {
			return tags, fmt.Errorf("%w: tag %s: %v", ErrSyntax, name, err)
		}
		for _, t := range tags {
			// Tag names are case-sensitive (§3.2).
			if t.Name == name {
				return tags, fmt.Errorf("%w: duplicate tag %q", ErrSyntax, name)
			}
		}
		tags = append(tags, Tag{Name: name, Value: value})
	}
	return tags, nil
}

func validTagName(n string) bool {
	if n == "" || !isAlpha(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		c := n[i]
		if !isAlpha(c) && !isDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

// checkTagValue enforces VALCHAR (%x21-3A / %x3C-7E) with interior FWS.
func checkTagValue(v string) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == ' ' || c == '\t':
		case c == '\r':
			if i+2 >= len(v) || v[i+1] != '\n' || (v[i+2] != ' ' && v[i+2] != '\t') {
				return fmt.Errorf("CR not part of folding whitespace")
			}
		case c == '\n':
			if i == 0 || v[i-1] != '\r' {
				return fmt.Errorf("bare LF")
			}
		case c >= 0x21 && c <= 0x7e && c != ';':
		default:
			return fmt.Errorf("invalid byte 0x%02x", c)
		}
	}
	return nil
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isFWS(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func trimFWS(s string) string {
	for len(s) > 0 && isFWS(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isFWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// stripFWS removes all folding whitespace, for values where RFC 6376 says
// whitespace is ignored (b=, bh=, h=, p=...).
func stripFWS(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x80 && isFWS(byte(r)) }) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if !isFWS(s[i]) {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// splitColonList splits a colon-separated list (h=, q=, key h=, s=, t=),
// removing FWS around items.
func splitColonList(s string) []string {
	items := strings.Split(s, ":")
	for i := range items {
		items[i] = stripFWS(items[i])
	}
	return items
}

// validDomain checks a d= or s= value: dot-separated labels of letters,
// digits, '-' and '_' (RFC 6376 §3.5 "domain-name", §3.1 selectors are
// sub-domains). Non-ASCII is rejected: U-labels must be sent as A-labels.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
				return false
			}
		}
	}
	return true
}

// decodeQP decodes dkim-quoted-printable (RFC 6376 §2.11): "=XX" hex
// escapes, FWS ignored.
func decodeQP(s string) (string, error) {
	s = stripFWS(s)
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated quoted-printable escape", ErrSyntax)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: invalid quoted-printable escape", ErrSyntax)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

func parseTime(name, v string) (int64, error) {
	v = stripFWS(v)
	if v == "" || len(v) > maxTimeDigits {
		return 0, fmt.Errorf("%w: %s= must be 1 to %d digits", ErrSyntax, name, maxTimeDigits)
	}
	for i := 0; i < len(v); i++ {
		if !isDigit(v[i]) {
			return 0, fmt.Errorf("%w: %s= is not a number", ErrSyntax, name)
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=: %v", ErrSyntax, name, err)
	}
	return n, nil
}

// ParseSignature parses and validates the value of a DKIM-Signature header
// field (everything after the colon; folding CRLFs may remain). It applies
// the tag-list grammar of RFC 6376 §3.2 and the checks that §6.1.1 turns
// into PERMFAIL: v= must be "1", the required tags v a b bh d h s must be
// present, i= must be d= or a subdomain of it, h= must include From, and t=
// must be before x=.
//
// On a semantic error the returned Signature is non-nil and holds whatever
// could be read (d=, s=, b= ...), so that the failure can still be reported
// with header.d/header.s/header.b. On a tag-list syntax error it is nil.
func ParseSignature(value string) (*Signature, error) {
	tags, err := parseTagList(value)
	if err != nil {
		return nil, err
	}
	sig := &Signature{Tags: tags, HeaderCanon: "simple", BodyCanon: "simple", QueryMethods: []string{"dns/txt"}}
	get := func(name string) (string, bool) {
		for _, t := range tags {
			if t.Name == name {
				return t.Value, true
			}
		}
		return "", false
	}
	// Fill the reporting fields first so that every later error still
	// carries them.
	if d, ok := get("d"); ok {
		sig.Domain = stripFWS(d)
	}
	if s, ok := get("s"); ok {
		sig.Selector = stripFWS(s)
	}
	if b, ok := get("b"); ok {
		sig.B = stripFWS(b)
	}
	if a, ok := get("a"); ok {
		sig.Algorithm = strings.ToLower(stripFWS(a))
	}
	if bh, ok := get("bh"); ok {
		sig.BodyHash = stripFWS(bh)
	}
	if i, ok := get("i"); ok {
		id, err := decodeQP(i)
		if err != nil {
			return sig, fmt.Errorf("i=: %w", err)
		}
		sig.Identifier = id
	} else if sig.Domain != "" {
		// RFC 6376 §3.5 i=: the default is an empty local-part followed
		// by "@" and the d= domain.
		sig.Identifier = "@" + sig.Domain
		sig.identifierIsAuto = true
	}

	// RFC 6376 §6.1.1: a missing or unknown v= is PERMFAIL
	// (incompatible version).
	v, ok := get("v")
	sig.Version = stripFWS(v)
	if !ok || sig.Version != "1" {
		return sig, fmt.Errorf("%w: v=%q", ErrVersion, clip(sig.Version))
	}
	for _, req := range []string{"a", "b", "bh", "d", "h", "s"} {
		if _, ok := get(req); !ok {
			return sig, fmt.Errorf("%w: %s=", ErrMissingTag, req)
		}
	}
	if !validDomain(sig.Domain) {
		return sig, fmt.Errorf("%w: d=%q is not a domain name", ErrSyntax, clip(sig.Domain))
	}
	if !validDomain(sig.Selector) {
		return sig, fmt.Errorf("%w: s=%q is not a selector", ErrSyntax, clip(sig.Selector))
	}
	if sig.B == "" {
		return sig, fmt.Errorf("%w: b= is empty", ErrSyntax)
	}
	if _, err := base64.StdEncoding.DecodeString(sig.B); err != nil {
		return sig, fmt.Errorf("%w: b= is not base64", ErrSyntax)
	}
	if _, err := base64.StdEncoding.DecodeString(sig.BodyHash); err != nil || sig.BodyHash == "" {
		return sig, fmt.Errorf("%w: bh= is not base64", ErrSyntax)
	}
	// sig-a-tag-alg = sig-a-tag-k "-" sig-a-tag-h (§3.5).
	if k, h, ok := strings.Cut(sig.Algorithm, "-"); !ok || k == "" || h == "" {
		return sig, fmt.Errorf("%w: a=%q", ErrSyntax, clip(sig.Algorithm))
	}
	if c, ok := get("c"); ok {
		hc, bc, two := strings.Cut(strings.ToLower(stripFWS(c)), "/")
		if hc == "" || (two && bc == "") {
			return sig, fmt.Errorf("%w: c=%q", ErrSyntax, clip(c))
		}
		sig.HeaderCanon = hc
		if two {
			sig.BodyCanon = bc
		}
	}
	h, _ := get("h")
	sig.SignedHeaders = splitColonList(h)
	from := false
	for _, name := range sig.SignedHeaders {
		if name == "" {
			return sig, fmt.Errorf("%w: empty header name in h=", ErrSyntax)
		}
		if strings.EqualFold(name, "from") {
			from = true
		}
	}
	// §6.1.1: "If the "h=" tag does not include the From header field,
	// the Verifier MUST ignore the DKIM-Signature header field and return
	// PERMFAIL (From field not signed)."
	if !from {
		return sig, ErrFromNotSigned
	}
	if !sig.identifierIsAuto {
		// §6.1.1: the i= domain must be the same as or a subdomain of d=
		// (PERMFAIL: domain mismatch).
		at := strings.LastIndexByte(sig.Identifier, '@')
		if at < 0 {
			return sig, fmt.Errorf("%w: i= has no '@'", ErrIdentifier)
		}
		idom := strings.ToLower(sig.Identifier[at+1:])
		d := strings.ToLower(sig.Domain)
		if idom != d && !strings.HasSuffix(idom, "."+d) {
			return sig, fmt.Errorf("%w: i= domain %q is not within d=%q", ErrIdentifier, clip(idom), clip(d))
		}
	}
	if l, ok := get("l"); ok {
		n, err := strconv.ParseInt(stripFWS(l), 10, 64)
		if err != nil || n < 0 || len(stripFWS(l)) > 76 {
			return sig, fmt.Errorf("%w: l= is not a number", ErrSyntax)
		}
		sig.HasBodyLength, sig.BodyLength = true, n
	}
	if q, ok := get("q"); ok {
		sig.QueryMethods = splitColonList(q)
	}
	if t, ok := get("t"); ok {
		n, err := parseTime("t", t)
		if err != nil {
			return sig, err
		}
		sig.HasTimestamp, sig.Timestamp = true, n
	}
	if x, ok := get("x"); ok {
		n, err := parseTime("x", x)
		if err != nil {
			return sig, err
		}
		sig.HasExpiration, sig.Expiration = true, n
	}
	// §3.5 x=: "If both "t=" and "x=" are present, the value of "x=" MUST
	// be greater than the value of "t="."
	if sig.HasTimestamp && sig.HasExpiration && sig.Expiration <= sig.Timestamp {
		return sig, fmt.Errorf("%w: x= is not after t=", ErrTimestamp)
	}
	return sig, nil
}
