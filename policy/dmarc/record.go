package dmarc

import (
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// Record is a parsed DMARC policy record (RFC 7489 §6.3, RFC 9989 §4.7).
// Tags that were absent or invalid hold their defaults; Warnings says which
// were invalid, for logs and lint output.
type Record struct {
	Raw string

	P      Policy // p=; PolicyNone when absent and the record is still usable
	HasP   bool   // p= was present and valid
	SP, NP Policy // meaningful only with HasSP / HasNP
	HasSP  bool
	HasNP  bool

	ADKIM, ASPF string // "r" or "s"; default "r"
	Pct         int    // 0..100; default 100 (RFC 7489 §6.3; removed in RFC 9989)
	Testing     bool   // t=y (RFC 9989 §4.7)
	PSD         string // "y", "n" or "u" (default) (RFC 9989 §4.7)

	RUA, RUF []URI  // only the usable URIs; unusable ones are in Warnings
	FO       string // normalized, colon-separated; default "0"
	RF       string // normalized, colon-separated; default "afrf"
	RI       int    // seconds; default 86400

	// Fallback is true when p= was missing or invalid, or sp=/np= invalid,
	// and the record is read "as if a record containing p=none was
	// retrieved" because it has a usable rua= (RFC 7489 §6.6.3 step 6,
	// RFC 9989 §4.10.1); or, in RFC 9989 mode, when p= is absent (RFC
	// 9989 "p" tag: treated as p=none, rua= or not).
	Fallback bool
	// Warnings lists tags ignored or defaulted, in record order.
	Warnings []string
}

// URI is one entry of rua= or ruf= (RFC 7489 §6.4 dmarc-uri).
type URI struct {
	Raw     string // as written, including any "!size"
	Scheme  string // lowercase: "mailto", "http" or "https"
	Address string // mailto: the addr-spec; http(s): the URI without "!size"
	MaxSize uint64 // bytes; 0 = no limit given
}

// Policy for the given tag ("p", "sp", "np"), applying the RFC defaults:
// sp defaults to p (RFC 7489 §6.3), np defaults to sp, then p (RFC 9989
// §4.7).
func (r *Record) policyFor(tag string) Policy {
	switch tag {
	case "np":
		if r.HasNP {
			return r.NP
		}
		return r.policyFor("sp")
	case "sp":
		if r.HasSP {
			return r.SP
		}
	}
	return r.P
}

// ParseRecord parses a DMARC record the way an RFC 9989 receiver reads it
// (np=, psd=, t= known; a missing p= means p=none). See ParseRecordMode.
func ParseRecord(txt string) (*Record, error) {
	return ParseRecordMode(txt, ModeRFC9989)
}

// ParseRecordMode parses a DMARC record as a receiver in the given mode.
//
// Receiver-side reading (RFC 7489 §6.3 "syntax errors in the remainder of
// the record SHOULD be discarded in favor of default values (if any) or
// ignored outright"): an invalid adkim/aspf/pct/fo/rf/ri/t/psd value or an
// unusable URI is dropped with a warning, not an error. Errors are:
//   - ErrNotDMARC: the record does not start with v=DMARC1 (the version
//     literal is case-sensitive: RFC 7489 §6.4 spells it with %x values,
//     RFC 9989 with %s);
//   - ErrSyntax: a tag appears twice (RFC 7489 §6.4 takes the tag-list of
//     RFC 6376 §3.2: "if a tag name does occur more than once, the entire
//     tag-list is invalid");
//   - ErrNoPolicy: p= invalid (or, in RFC 7489 mode, missing), or sp= (or
//     np= in RFC 9989 mode) invalid, without a usable rua= (RFC 7489
//     §6.6.3 step 6, RFC 9989 §4.10.1).
//
// In ModeRFC7489, np=, psd= and t= are unknown tags and are ignored.
func ParseRecordMode(txt string, mode Mode) (*Record, error) {
	bis := mode != ModeRFC7489
	r := &Record{
		Raw: txt, P: PolicyNone, ADKIM: "r", ASPF: "r", Pct: 100, PSD: "u",
		FO: "0", RF: "afrf", RI: 86400,
	}
	warn := func(format string, a ...any) { r.Warnings = append(r.Warnings, fmt.Sprintf(format, a...)) }

	parts := strings.Split(txt, ";")
	seen := make(map[string]bool, len(parts))
	var pBad, spBad, npBad *string
	hasPTag := false
	for i, part := range parts {
		part = trimWSP(part)
		if strings.HasSuffix(part, `\`) {
			// A literal backslash before ";" is a zone-file escaping
			// mistake ("v=DMARC1\; p=reject\;") seen in the wild; drop it.
			part = trimWSP(strings.TrimSuffix(part, `\`))
			warn("stray backslash before ';' in %q", part)
		}
		name, value, hasEq := strings.Cut(part, "=")
		name, value = strings.ToLower(trimWSP(name)), trimWSP(value)
		if i == 0 {
			// RFC 7489 §6.3 / RFC 9989 §4.7: v= MUST be the first tag.
			if name != "v" || !hasEq || value != "DMARC1" {
				return nil, fmt.Errorf("%w: record starts with %q", ErrNotDMARC, truncate(part))
			}
			seen["v"] = true
			continue
		}
		if part == "" {
			continue // "p=none;" ends with an empty tag-spec; RFC 7489 §6.4 allows the trailing ";"
		}
		if !validTagName(name) {
			warn("ignored malformed tag-spec %q", truncate(part))
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: tag %q appears more than once", ErrSyntax, name)
		}
		seen[name] = true
		if !hasEq {
			warn("tag %q has no value", name)
		}
		switch name {
		case "p":
			hasPTag = true
			if p, ok := parsePolicy(value); ok && hasEq {
				r.P, r.HasP = p, true
			} else {
				pBad = &value
			}
		case "sp":
			if p, ok := parsePolicy(value); ok && hasEq {
				r.SP, r.HasSP = p, true
			} else {
				spBad = &value
			}
		case "np":
			if !bis {
				warn("np= is not an RFC 7489 tag; ignored")
				continue
			}
			if p, ok := parsePolicy(value); ok && hasEq {
				r.NP, r.HasNP = p, true
			} else {
				npBad = &value
			}
		case "adkim", "aspf":
			v := strings.ToLower(value)
			if v != "r" && v != "s" {
				warn("invalid %s=%q; using r", name, truncate(value))
				continue
			}
			if name == "adkim" {
				r.ADKIM = v
			} else {
				r.ASPF = v
			}
		case "pct":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 100 || !allDigits(value) {
				warn("invalid pct=%q; using 100", truncate(value))
				continue
			}
			r.Pct = n
		case "t":
			if !bis {
				warn("t= is not an RFC 7489 tag; ignored")
				continue
			}
			switch strings.ToLower(value) {
			case "y":
				r.Testing = true
			case "n":
			default:
				warn("invalid t=%q; using n", truncate(value))
			}
		case "psd":
			if !bis {
				warn("psd= is not an RFC 7489 tag; ignored")
				continue
			}
			switch v := strings.ToLower(value); v {
			case "y", "n", "u":
				r.PSD = v
			default:
				warn("invalid psd=%q; using u", truncate(value))
			}
		case "rua", "ruf":
			uris := parseURIList(value, func(s string) { warn("%s: %s", name, s) })
			if name == "rua" {
				r.RUA = uris
			} else {
				r.RUF = uris
			}
		case "fo":
			if fo, ok := parseColonList(value, map[string]bool{"0": true, "1": true, "d": true, "s": true}); ok {
				r.FO = fo
			} else {
				warn("invalid fo=%q; using 0", truncate(value))
			}
		case "rf":
			if rf, ok := parseColonList(value, map[string]bool{"afrf": true, "iodef": true}); ok {
				r.RF = rf
			} else {
				warn("invalid rf=%q; using afrf", truncate(value))
			}
		case "ri":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil || !allDigits(value) || uint64(n) > uint64(math.MaxInt) {
				warn("invalid ri=%q; using 86400", truncate(value))
				continue
			}
			r.RI = int(n)
		default:
			// RFC 7489 §6.3 / RFC 9989 §4.7: unknown tags MUST be ignored.
			warn("unknown tag %q ignored", name)
		}
	}

	// RFC 7489 §6.6.3 step 6 / RFC 9989 §4.10.1: an invalid (RFC 7489:
	// or missing) p=, or an invalid sp= (np=), with at least one
	// syntactically valid rua= URI → act as if the record said p=none;
	// otherwise no DMARC processing.
	usableRUA := len(r.RUA) > 0
	var why string
	switch {
	case pBad != nil:
		why = fmt.Sprintf("invalid p=%q", truncate(*pBad))
	case spBad != nil:
		why = fmt.Sprintf("invalid sp=%q", truncate(*spBad))
	case npBad != nil:
		why = fmt.Sprintf("invalid np=%q", truncate(*npBad))
	case !hasPTag && bis:
		// RFC 9989 "p" tag: "If this tag is not present in an otherwise
		// syntactically valid DMARC Policy Record, then the record is
		// treated as if it included p=none".
		r.Fallback = true
		warn("no p= tag; p=none assumed")
		return r, nil
	case !hasPTag:
		why = "no p= tag"
	}
	if why == "" {
		return r, nil
	}
	if !usableRUA {
		return nil, fmt.Errorf("%w: %s and no usable rua=", ErrNoPolicy, why)
	}
	r.P, r.HasP, r.SP, r.HasSP, r.NP, r.HasNP = PolicyNone, false, "", false, "", false
	r.Fallback = true
	warn("%s; rua= present, so p=none assumed", why)
	return r, nil
}

func parsePolicy(v string) (Policy, bool) {
	switch p := Policy(strings.ToLower(v)); p {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return p, true
	}
	return "", false
}

// parseColonList checks a colon-separated keyword list (fo=, rf=) against
// allowed, case-insensitively, and returns it lowercased.
func parseColonList(v string, allowed map[string]bool) (string, bool) {
	items := strings.Split(v, ":")
	for i, it := range items {
		it = strings.ToLower(trimWSP(it))
		if !allowed[it] {
			return "", false
		}
		items[i] = it
	}
	return strings.Join(items, ":"), true
}

// parseURIList parses rua=/ruf= (RFC 7489 §6.4: dmarc-uri *(*WSP ","
// *WSP dmarc-uri)), keeping the usable URIs.
func parseURIList(v string, warn func(string)) []URI {
	var out []URI
	for _, raw := range strings.Split(v, ",") {
		raw = trimWSP(raw)
		u, err := ParseURI(raw)
		if err != nil {
			warn(err.Error())
			continue
		}
		out = append(out, u)
	}
	return out
}

// ParseURI parses one dmarc-uri: a URI with an optional "!" size limit
// with unit k, m, g or t (RFC 7489 §6.4). Only mailto: (which RFC 7489
// §6.2 requires receivers to support) and http(s): are usable; a mailto:
// URI must carry one plain addr-spec.
func ParseURI(raw string) (URI, error) {
	u := URI{Raw: raw}
	body := raw
	if i := strings.LastIndexByte(raw, '!'); i >= 0 {
		size, ok := parseSize(raw[i+1:])
		if !ok {
			return URI{}, fmt.Errorf("invalid size limit in %q", truncate(raw))
		}
		body, u.MaxSize = raw[:i], size
	}
	pu, err := url.Parse(body)
	if err != nil || pu.Scheme == "" {
		return URI{}, fmt.Errorf("not a URI: %q", truncate(raw))
	}
	u.Scheme = strings.ToLower(pu.Scheme)
	switch u.Scheme {
	case "mailto":
		addr, err := url.PathUnescape(pu.Opaque)
		if err != nil || addr == "" || strings.ContainsAny(addr, ", \t") {
			return URI{}, fmt.Errorf("invalid mailto address in %q", truncate(raw))
		}
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Name != "" || !strings.EqualFold(a.Address, addr) || !validDomain(domainPart(addr)) {
			return URI{}, fmt.Errorf("invalid mailto address in %q", truncate(raw))
		}
		u.Address = addr
	case "http", "https":
		if pu.Host == "" {
			return URI{}, fmt.Errorf("no host in %q", truncate(raw))
		}
		u.Address = body
	default:
		return URI{}, fmt.Errorf("unsupported scheme in %q", truncate(raw))
	}
	return u, nil
}

// Host returns the domain a report to u goes to: the mailto domain or the
// http(s) host, lowercase.
func (u URI) Host() string {
	if u.Scheme == "mailto" {
		return normalize(domainPart(u.Address))
	}
	if pu, err := url.Parse(u.Address); err == nil {
		return normalize(pu.Hostname())
	}
	return ""
}

func domainPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

func parseSize(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	shift := uint(0)
	switch s[len(s)-1] {
	case 'k', 'K':
		shift = 10
	case 'm', 'M':
		shift = 20
	case 'g', 'G':
		shift = 30
	case 't', 'T':
		shift = 40
	}
	if shift > 0 {
		s = s[:len(s)-1]
	}
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint64>>shift {
		return 0, false
	}
	return n << shift, true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validTagName: tag-name = ALPHA *ALNUMPUNC (RFC 6376 §3.2, used by RFC
// 7489 §6.4).
func validTagName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func trimWSP(s string) string { return strings.Trim(s, " \t\r\n") }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
