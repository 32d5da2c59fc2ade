package authres

import (
	"fmt"
	"strings"
)

// Parse reads a whole header value back into results (tolerant of comments,
// quoted strings with ';' inside, folding). Used by tests and later by reports.
//
// It follows the RFC 8601 §2.2 grammar with these tolerances: folding is
// accepted anywhere CFWS is (bare CR and LF included), a trailing ";" and
// empty resinfos (";;") are skipped, and a value with an authserv-id but no
// resinfo reads as "none". Keywords are returned in lower case. The comments
// directly after a result are joined with a space into Result.Comment; other
// comments are skipped. A pvalue that is one quoted-string is returned
// unquoted and unescaped; any other pvalue (for example the quoted local-part
// form "a b"@example.com) is returned as written. The authserv-id is returned
// as written (unquoted); use AuthservID to compare it.
//
// An authres-version other than 1 gives ErrVersion together with the
// authserv-id and no results (RFC 8601 §2.2). Other errors wrap ErrMalformed.
func Parse(value string) (authservID string, results []Result, err error) {
	l := &lexer{s: value}
	id, err := l.authservID()
	if err != nil {
		return "", nil, err
	}
	version, err := l.version()
	if err != nil {
		return "", nil, err
	}
	if version != "" && strings.TrimLeft(version, "0") != "1" {
		return id, nil, fmt.Errorf("%w: version %q", ErrVersion, version)
	}
	sawNone := false
	for {
		if _, err := l.skipCFWS(); err != nil {
			return "", nil, err
		}
		if l.eof() {
			break
		}
		if l.peek() != ';' {
			return "", nil, l.errorf("expected ';'")
		}
		l.i++
		if _, err := l.skipCFWS(); err != nil {
			return "", nil, err
		}
		if l.eof() || l.peek() == ';' {
			continue
		}
		if sawNone {
			return "", nil, l.errorf(`resinfo after "none"`)
		}
		r, none, err := l.resinfo(len(results) == 0)
		if err != nil {
			return "", nil, err
		}
		if none {
			sawNone = true
			continue
		}
		results = append(results, r)
	}
	return id, results, nil
}

// AuthservID returns the authserv-id of an existing header value (skipping CFWS
// and comments, handling quoted-string ids and an optional version number),
// lowercase-insensitively comparable; error if malformed.
//
// The id is returned in a canonical form so that a forger cannot dodge the
// removal of fields claiming to be ours (RFC 8601 §5) with another spelling:
// quoted-string unescaped, folding removed, U-labels turned into A-labels and
// everything lower-cased. Compare it with the configured id in the same form:
// AuthservID(Format(ourID, nil)) gives it.
//
// Only the authserv-id and the optional version are checked: what follows the
// first ';' is not read. The version is not checked either, since a consumer
// that ignores it would still trust the field. When something other than ';'
// follows the id, the error wraps ErrMalformed and the id read so far is
// still returned, so that a caller deleting forged fields can decide to
// treat such a field as claiming that id anyway.
func AuthservID(value string) (string, error) {
	l := &lexer{s: value}
	id, err := l.authservID()
	if err != nil {
		return "", err
	}
	id = canonicalID(id)
	if _, err := l.version(); err != nil {
		return id, err
	}
	if !l.eof() && l.peek() != ';' {
		return id, l.errorf("expected ';' after authserv-id")
	}
	return id, nil
}

// canonicalID lower-cases an authserv-id and writes U-labels as A-labels.
func canonicalID(id string) string {
	if !isASCII(id) {
		if a, ok := domainToASCII(id); ok {
			id = a
		}
	}
	return strings.ToLower(id)
}

// lexer reads a field value. It works on bytes: every delimiter of the
// grammar is ASCII, and UTF-8 (RFC 6532) passes through inside tokens,
// quoted-strings and comments.
type lexer struct {
	s string
	i int
}

func (l *lexer) eof() bool  { return l.i >= len(l.s) }
func (l *lexer) peek() byte { return l.s[l.i] }

func (l *lexer) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformed, fmt.Sprintf(format, args...), l.i)
}

// skipCFWS skips RFC 5322 §3.2.2 CFWS and returns the comments it passed.
func (l *lexer) skipCFWS() ([]string, error) {
	var comments []string
	for !l.eof() {
		switch l.peek() {
		case ' ', '\t', '\r', '\n':
			l.i++
		case '(':
			c, err := l.comment()
			if err != nil {
				return nil, err
			}
			comments = append(comments, c)
		default:
			return comments, nil
		}
	}
	return comments, nil
}

// comment reads a (possibly nested) comment starting at '(' and returns its
// text with quoted-pairs resolved, folding removed and inner parentheses kept.
func (l *lexer) comment() (string, error) {
	start := l.i
	depth := 0
	var b strings.Builder
	for !l.eof() {
		c := l.peek()
		switch c {
		case '\\':
			if l.i+1 >= len(l.s) {
				l.i = start
				return "", l.errorf("unterminated comment")
			}
			if n := l.s[l.i+1]; n != '\r' && n != '\n' {
				b.WriteByte(n)
			}
			l.i += 2
			continue
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				l.i++
				return b.String(), nil
			}
			b.WriteByte(c)
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
		l.i++
	}
	l.i = start
	return "", l.errorf("unterminated comment")
}

// quoted reads an RFC 5322 §3.2.4 quoted-string starting at '"'. It returns
// the content (quoted-pairs resolved, CR/LF of folding removed) and the text
// as written, without the CR/LF.
func (l *lexer) quoted() (content, raw string, err error) {
	start := l.i
	var b, r strings.Builder
	r.WriteByte('"')
	l.i++
	for !l.eof() {
		c := l.peek()
		switch c {
		case '"':
			l.i++
			r.WriteByte('"')
			return b.String(), r.String(), nil
		case '\\':
			if l.i+1 >= len(l.s) {
				l.i = start
				return "", "", l.errorf("unterminated quoted-string")
			}
			if n := l.s[l.i+1]; n != '\r' && n != '\n' {
				b.WriteByte(n)
				r.WriteByte('\\')
				r.WriteByte(n)
			}
			l.i += 2
			continue
		case '\r', '\n':
		default:
			b.WriteByte(c)
			r.WriteByte(c)
		}
		l.i++
	}
	l.i = start
	return "", "", l.errorf("unterminated quoted-string")
}

// token reads an RFC 2045 §5.1 token; octets above 127 are accepted
// (RFC 6532 §3.2).
func (l *lexer) token() string {
	start := l.i
	for !l.eof() {
		c := l.peek()
		if c <= ' ' || c == 0x7f || isTSpecial(c) {
			break
		}
		l.i++
	}
	return l.s[start:l.i]
}

// keyword reads letters, digits and hyphens (RFC 8601 §2.2 Keyword), lower-cased.
func (l *lexer) keyword() string {
	start := l.i
	for !l.eof() && isLDH(l.peek()) {
		l.i++
	}
	return strings.ToLower(l.s[start:l.i])
}

func (l *lexer) digits() string {
	start := l.i
	for !l.eof() && l.peek() >= '0' && l.peek() <= '9' {
		l.i++
	}
	return l.s[start:l.i]
}

// authservID reads [CFWS] authserv-id, authserv-id being an RFC 2045 value
// (RFC 8601 §2.2), and the CFWS after it.
func (l *lexer) authservID() (string, error) {
	if _, err := l.skipCFWS(); err != nil {
		return "", err
	}
	if l.eof() {
		return "", l.errorf("missing authserv-id")
	}
	var id string
	if l.peek() == '"' {
		c, _, err := l.quoted()
		if err != nil {
			return "", err
		}
		id = c
	} else if id = l.token(); id == "" {
		return "", l.errorf("missing authserv-id")
	}
	if _, err := l.skipCFWS(); err != nil {
		return id, err
	}
	return id, nil
}

// version reads the optional authres-version (1*DIGIT [CFWS]) that may follow
// the authserv-id.
func (l *lexer) version() (string, error) {
	if l.eof() || l.peek() < '0' || l.peek() > '9' {
		return "", nil
	}
	v := l.digits()
	if !l.eof() {
		if c := l.peek(); c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '(' && c != ';' {
			return "", l.errorf("bad authres-version")
		}
	}
	if _, err := l.skipCFWS(); err != nil {
		return "", err
	}
	return v, nil
}

// expect consumes c, surrounded by optional CFWS.
func (l *lexer) expect(c byte, what string) error {
	if _, err := l.skipCFWS(); err != nil {
		return err
	}
	if l.eof() || l.peek() != c {
		return l.errorf("expected %s", what)
	}
	l.i++
	_, err := l.skipCFWS()
	return err
}

// resinfo reads one RFC 8601 §2.2 resinfo after its ';' and CFWS. When first
// is set, a lone "none" is the no-result form and reported as such.
func (l *lexer) resinfo(first bool) (r Result, none bool, err error) {
	method := l.keyword()
	if method == "" {
		return r, false, l.errorf("expected method")
	}
	if _, err := l.skipCFWS(); err != nil {
		return r, false, err
	}
	if method == "none" && first && (l.eof() || l.peek() == ';') {
		return r, true, nil
	}
	if !l.eof() && l.peek() == '/' {
		l.i++
		if _, err := l.skipCFWS(); err != nil {
			return r, false, err
		}
		v := l.digits()
		if v == "" {
			return r, false, l.errorf("expected method-version")
		}
		method += "/" + v
	}
	if err := l.expect('=', "'=' after method"); err != nil {
		return r, false, err
	}
	if r.Value = l.keyword(); r.Value == "" {
		return r, false, l.errorf("expected result")
	}
	r.Method = method
	comments, err := l.skipCFWS()
	if err != nil {
		return r, false, err
	}
	r.Comment = strings.Join(comments, " ")
	haveReason := false
	for !l.eof() && l.peek() != ';' {
		kw := l.keyword()
		if kw == "" {
			return r, false, l.errorf("expected reason or property")
		}
		if _, err := l.skipCFWS(); err != nil {
			return r, false, err
		}
		switch {
		case kw == "reason" && !haveReason && len(r.Props) == 0 && !l.eof() && l.peek() == '=':
			// reasonspec = "reason" [CFWS] "=" [CFWS] value
			l.i++
			if _, err := l.skipCFWS(); err != nil {
				return r, false, err
			}
			if r.Reason, err = l.pvalue(); err != nil {
				return r, false, err
			}
			haveReason = true
		case !l.eof() && l.peek() == '.':
			// propspec = ptype [CFWS] "." [CFWS] property [CFWS] "=" pvalue
			l.i++
			if _, err := l.skipCFWS(); err != nil {
				return r, false, err
			}
			name := l.keyword()
			if name == "" {
				return r, false, l.errorf("expected property")
			}
			if err := l.expect('=', "'=' after property"); err != nil {
				return r, false, err
			}
			v, err := l.pvalue()
			if err != nil {
				return r, false, err
			}
			r.Props = append(r.Props, Property{Type: kw, Name: name, Value: v})
		default:
			return r, false, l.errorf("expected reason or property")
		}
		if _, err := l.skipCFWS(); err != nil {
			return r, false, err
		}
	}
	return r, false, nil
}

// isPvalueStop reports octets that end an unquoted pvalue.
func isPvalueStop(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '(' || c == ')' || c == ';' || c == '"'
}

// pvalue reads an RFC 8601 §2.2 pvalue (also used for the reason value):
// a token, a quoted-string, or [local-part] "@" domain-name. Unquoted runs
// are accepted as written even with tspecials such as '/' and '=' that
// other writers leave bare (DKIM header.b).
func (l *lexer) pvalue() (string, error) {
	var lit strings.Builder
	parts, onlyQuoted := 0, true
	var content string
	for !l.eof() {
		c := l.peek()
		if c == '"' {
			q, raw, err := l.quoted()
			if err != nil {
				return "", err
			}
			content = q
			lit.WriteString(raw)
			parts++
			continue
		}
		if isPvalueStop(c) {
			break
		}
		start := l.i
		for !l.eof() && !isPvalueStop(l.peek()) {
			l.i++
		}
		lit.WriteString(l.s[start:l.i])
		parts++
		onlyQuoted = false
	}
	if parts == 0 {
		return "", l.errorf("expected value")
	}
	if parts == 1 && onlyQuoted {
		return content, nil
	}
	return lit.String(), nil
}
