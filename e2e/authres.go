package e2e

import (
	"errors"
	"fmt"
	"strings"
)

// ErrAuthResults is a syntax error in an Authentication-Results value.
var ErrAuthResults = errors.New("e2e: authentication-results syntax")

// AuthResults is one parsed Authentication-Results field (RFC 8601 §2.2).
//
// The tests read the daemon's output with this parser rather than the
// project's own (policy/authres), so that a mistake shared by the daemon's
// writer and its reader cannot hide itself: this one is an independent
// reading of the grammar.
type AuthResults struct {
	AuthservID string
	Version    string // authres-version, "" when absent
	Results    []MethodResult
}

// MethodResult is one resinfo: "method=result reason=... ptype.prop=value".
type MethodResult struct {
	Method string // lower case
	Result string // lower case
	Reason string
	// Props maps "ptype.property" (lower case) to its value, e.g.
	// "smtp.mailfrom" -> "user@example.org".
	Props map[string]string
}

// ByMethod returns the results of method, in header order.
func (a *AuthResults) ByMethod(method string) []MethodResult {
	var out []MethodResult
	for _, r := range a.Results {
		if strings.EqualFold(r.Method, method) {
			out = append(out, r)
		}
	}
	return out
}

// ParseAuthResults parses an unfolded Authentication-Results field value.
// Comments (RFC 5322 §3.2.2, nested) are dropped, quoted strings are
// unquoted, and "none" (no-result) gives an empty Results.
func ParseAuthResults(value string) (*AuthResults, error) {
	toks, err := arTokens(value)
	if err != nil {
		return nil, err
	}
	// Split at ";" tokens.
	var segs [][]arToken
	cur := []arToken{}
	for _, t := range toks {
		if t.kind == ';' {
			segs = append(segs, cur)
			cur = []arToken{}
			continue
		}
		cur = append(cur, t)
	}
	segs = append(segs, cur)

	head := segs[0]
	if len(head) == 0 || head[0].kind != 'w' {
		return nil, fmt.Errorf("%w: no authserv-id in %q", ErrAuthResults, value)
	}
	ar := &AuthResults{AuthservID: head[0].text}
	switch len(head) {
	case 1:
	case 2:
		if head[1].kind != 'w' || strings.Trim(head[1].text, "0123456789") != "" {
			return nil, fmt.Errorf("%w: bad authres-version %q", ErrAuthResults, head[1].text)
		}
		ar.Version = head[1].text
	default:
		return nil, fmt.Errorf("%w: junk after the authserv-id in %q", ErrAuthResults, value)
	}
	if len(segs) == 1 {
		return nil, fmt.Errorf("%w: no result (not even \"none\") in %q", ErrAuthResults, value)
	}
	if len(segs) == 2 && len(segs[1]) == 1 && segs[1][0].kind == 'w' && strings.EqualFold(segs[1][0].text, "none") {
		return ar, nil
	}
	for _, seg := range segs[1:] {
		r, err := parseResinfo(seg)
		if err != nil {
			return nil, fmt.Errorf("%w in %q", err, value)
		}
		ar.Results = append(ar.Results, r)
	}
	return ar, nil
}

// parseResinfo reads "method[/version] = result [reason = v] [ptype.prop = v]...".
func parseResinfo(seg []arToken) (MethodResult, error) {
	// Group the tokens as name "=" value triples; "/" joins a method and its
	// version into the name.
	var names, values []string
	for i := 0; i < len(seg); {
		if seg[i].kind != 'w' {
			return MethodResult{}, fmt.Errorf("%w: want a name, got %q", ErrAuthResults, seg[i].text)
		}
		name := seg[i].text
		i++
		if i+1 < len(seg) && seg[i].kind == '/' && seg[i+1].kind == 'w' {
			name += "/" + seg[i+1].text
			i += 2
		}
		if i+1 >= len(seg) || seg[i].kind != '=' || (seg[i+1].kind != 'w' && seg[i+1].kind != '"') {
			return MethodResult{}, fmt.Errorf("%w: want %q = value", ErrAuthResults, name)
		}
		names = append(names, name)
		values = append(values, seg[i+1].text)
		i += 2
	}
	if len(names) == 0 {
		return MethodResult{}, fmt.Errorf("%w: empty resinfo", ErrAuthResults)
	}
	method, _, _ := strings.Cut(names[0], "/")
	r := MethodResult{Method: strings.ToLower(method), Result: strings.ToLower(values[0]), Props: map[string]string{}}
	for j := 1; j < len(names); j++ {
		switch n := strings.ToLower(names[j]); {
		case n == "reason" && j == 1:
			r.Reason = values[j]
		case strings.Count(n, ".") >= 1 && !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, "."):
			if _, dup := r.Props[n]; dup {
				return MethodResult{}, fmt.Errorf("%w: property %s twice", ErrAuthResults, n)
			}
			r.Props[n] = values[j]
		default:
			return MethodResult{}, fmt.Errorf("%w: %q is neither reason nor ptype.property", ErrAuthResults, names[j])
		}
	}
	return r, nil
}

type arToken struct {
	kind byte // 'w' word, '"' quoted string, ';', '=', '/'
	text string
}

// arTokens splits an AR value into words, quoted strings and the specials
// ";", "=" and "/", dropping white space and comments. A word may contain
// "." and "@" (value = token / quoted-string, pvalue may be an addr-spec or
// domain, RFC 8601 §2.2).
func arTokens(v string) ([]arToken, error) {
	var out []arToken
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth, j := 0, i
		comment:
			for ; j < len(v); j++ {
				switch v[j] {
				case '\\':
					j++
				case '(':
					depth++
				case ')':
					depth--
					if depth == 0 {
						break comment
					}
				}
			}
			if depth != 0 {
				return nil, fmt.Errorf("%w: unterminated comment in %q", ErrAuthResults, v)
			}
			i = j + 1
		case c == '"':
			var b strings.Builder
			i++
			closed := false
			for ; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
					b.WriteByte(v[i])
					continue
				}
				if v[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(v[i])
			}
			if !closed {
				return nil, fmt.Errorf("%w: unterminated quoted string in %q", ErrAuthResults, v)
			}
			out = append(out, arToken{'"', b.String()})
		case c == ';' || ((c == '=' || c == '/') && !afterEquals(out)):
			// After "=", "/" and "=" start a value instead: a header.b of
			// base64 may begin with either (seen from OpenDKIM).
			out = append(out, arToken{c, string(c)})
			i++
		default:
			// A value after "=" runs to white space, ";" or a comment, so
			// that the bare base64 of a header.b (with "/", "+" and "=")
			// reads as one value, as writers emit it.
			stop := " \t\r\n()\";=/"
			if afterEquals(out) {
				stop = " \t\r\n();"
			}
			j := i
			for j < len(v) && !strings.ContainsRune(stop, rune(v[j])) {
				j++
			}
			if j == i { // a ")" without its "(", or "/" in a value
				return nil, fmt.Errorf("%w: unexpected %q in %q", ErrAuthResults, v[i], v)
			}
			out = append(out, arToken{'w', v[i:j]})
			i = j
		}
	}
	return out, nil
}

// afterEquals reports whether the last token is "=", so that what follows
// is a value.
func afterEquals(out []arToken) bool {
	return len(out) > 0 && out[len(out)-1].kind == '='
}
