// Package authres writes and reads the Authentication-Results header field
// (RFC 8601).
//
// Format builds the field value that authmilter prepends to a message; Parse
// and AuthservID read values written by anyone, including forgers. The writer
// exists because go-msgauth's authres.Format passes CR/LF through (header
// injection), does not escape '\' and does not fold: here nothing a sender
// controls can leave its quoted-string, comment or token, and the output is
// always exactly one well-formed, folded header field.
//
// # What Format does with hostile or odd input
//
//   - Every free string (authserv-id, property values, reasons, comments) is
//     cleaned first: invalid UTF-8 and every control character (CR, LF, NUL,
//     TAB, DEL, ...) become a space, runs of white space collapse to one space,
//     and leading/trailing space is trimmed. Overlong strings are cut (property
//     values and the authserv-id to 255 octets; reasons and comments to 255
//     octets ending in "...").
//   - Keywords (method, result, ptype, property; RFC 8601 §2.2 "Keyword" is an
//     RFC 5321 Ldh-str) are never repaired, since a "fixed" keyword could assert
//     something the caller did not mean. A Result whose Method or Value is not a
//     keyword is dropped entirely; a Property whose Type or Name is not a
//     keyword is dropped. Keywords are written in lower case (they are
//     case-insensitive, RFC 8601 §2.2). If every result is dropped the field
//     says "none" (§2.2 no-result), the only valid spelling of an empty list.
//   - Property values are written bare when they are an RFC 2045 token or
//     [local-part]@domain-name (RFC 8601 §2.3 pvalue), otherwise as a
//     quoted-string; reasons are always quoted-strings; comments are escaped.
//
// # 8-bit data
//
// RFC 8601 (with RFC 6532 and RFC 8616) allows UTF-8, including U-labels, in
// Authentication-Results, but only a message that travels with SMTPUTF8 may
// carry 8-bit header fields, and a milter adds this field to every message.
// Format therefore always writes 7-bit ASCII: a domain (the authserv-id, a
// pvalue, or the part after the last '@' of a pvalue) made of valid U-labels is
// written with A-labels (RFC 5890 "xn--", same domain, RFC 8616 §2), and any
// other non-ASCII character (UTF-8 local-parts, reasons, comments) is written
// as '?'. Parse and AuthservID accept UTF-8 as RFC 6532 allows.
package authres

import "errors"

// Property is one propspec (RFC 8601 §2.2): ptype.property=pvalue.
type Property struct {
	Type  string // ptype: "smtp", "header", "body", "policy" (RFC 8601 §2.3)
	Name  string // property, e.g. "mailfrom", "d", "i", "s", "a", "b", "from", "helo"
	Value string // written as a token or local-part@domain when possible (§2.3), else as a quoted-string
}

// Result is one resinfo (RFC 8601 §2.2): method=result, an optional comment,
// an optional reason and the properties that were evaluated.
type Result struct {
	Method  string // "spf", "dkim", "dmarc", "auth", "iprev", ... optionally "/version" (§2.2 method-version)
	Value   string // "pass", "fail", ... (result keyword, §2.7)
	Reason  string // written as reason="..." (quoted, escaped) when non-empty (§2.2 reasonspec)
	Comment string // optional comment written right after the result, escaped
	Props   []Property
}

// Errors returned by Parse and AuthservID; they are wrapped with detail, so
// test them with errors.Is.
var (
	// ErrMalformed means the value does not follow the RFC 8601 §2.2 grammar.
	ErrMalformed = errors.New("authres: malformed Authentication-Results")
	// ErrVersion means the value declares an authres-version other than 1
	// (RFC 8601 §2.2: a consumer must not interpret a version it does not
	// know).
	ErrVersion = errors.New("authres: unsupported Authentication-Results version")
)
