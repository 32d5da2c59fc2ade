package msghdr

import (
	"strings"
	"unicode/utf8"
)

// Token kinds of the RFC 5322 §3.2 lexical layer.
const (
	tAtom    uint8 = iota // atext run (RFC 5322 §3.2.3), 8-bit allowed (RFC 6532 §3.2)
	tQuoted               // quoted-string (§3.2.4); text holds the unescaped content
	tEncoded              // RFC 2047 encoded word, kept whole so no address is read out of it
	tLiteral              // domain-literal "[...]" (§3.4.1)
	tSpecial              // one of < > @ , ; : .
	tJunk                 // anything else: stray ) ] \ or control characters
)

// token holds offsets only, no strings, so that the token slice of a huge
// hostile field holds no pointers for the garbage collector to scan.
type token struct {
	kind        uint8
	c           byte // the character of a tSpecial
	spaceBefore bool // white space or a comment precedes the token
	pos, end    int  // offsets of the token in the unfolded value
}

// raw returns the token as written.
func (lx *lexed) raw(t token) string { return lx.s[t.pos:t.end] }

// unquote returns the content of a quoted-string (RFC 5322 §3.2.4) without
// the quotes and quoted-pair backslashes.
func unquote(q string) string {
	q = strings.TrimPrefix(q, `"`)
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		switch {
		case q[i] == '\\' && i+1 < len(q):
			i++
		case q[i] == '"':
			return b.String()
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// lexer state shared with the parser for problem reporting.
type lexed struct {
	s       string  // unfolded value
	toks    []token // tokens in order
	encoded [][2]int
}

// unfold removes folding line breaks (RFC 5322 §3.2.2: CRLF followed by WSP;
// milters also see bare LF) and reports any other CR, LF or control
// character, which a well-formed header field cannot contain (§2.2).
func unfold(v string, pr *problems) string {
	var b strings.Builder
	b.Grow(len(v))
	badUTF8 := !utf8.ValidString(v)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\r' && i+2 < len(v) && v[i+1] == '\n' && isWSP(v[i+2]):
			i++ // drop CRLF, keep the WSP
		case c == '\n' && i+1 < len(v) && isWSP(v[i+1]):
			// bare-LF folding as passed by Postfix
		case c == '\r' || c == '\n':
			pr.add(ProblemControl)
			b.WriteByte(' ')
		case (c < 0x20 && c != '\t') || c == 0x7f:
			pr.add(ProblemControl)
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	if badUTF8 {
		pr.add(ProblemBadUTF8)
	}
	return b.String()
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// isAtext reports RFC 5322 §3.2.3 atext, extended by RFC 6532 §3.2 to any
// octet of a UTF-8 sequence.
func isAtext(c byte) bool {
	if c >= 0x80 {
		return true
	}
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// encodedWordEnd returns the end of an RFC 2047 §2 encoded word
// "=?charset?encoding?encoded-text?=" starting at s[i], or -1. The scan
// stops at the third '?', at white space or at a control character, so
// repeated attempts over hostile input stay linear.
func encodedWordEnd(s string, i int) int {
	if !strings.HasPrefix(s[i:], "=?") {
		return -1
	}
	j := i + 2
	// charset (RFC 2047 token, RFC 2231 language suffix allowed)
	k := j
	for k < len(s) && s[k] != '?' && s[k] > ' ' && s[k] < 0x7f {
		k++
	}
	if k == j || k >= len(s) || s[k] != '?' {
		return -1
	}
	k++
	if k+1 >= len(s) || strings.IndexByte("BbQq", s[k]) < 0 || s[k+1] != '?' {
		return -1
	}
	k += 2
	for k < len(s) && s[k] != '?' && s[k] > ' ' && s[k] < 0x7f {
		k++
	}
	if k+1 >= len(s) || s[k] != '?' || s[k+1] != '=' {
		return -1
	}
	return k + 2
}

// lex splits an unfolded field value into tokens, skipping comments
// (RFC 5322 §3.2.2, nested, with quoted-pairs) and white space. Every loop
// iteration consumes at least one octet.
func lex(s string, pr *problems) *lexed {
	lx := &lexed{s: s}
	space := false
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isWSP(c):
			space = true
			i++
			continue
		case c == '(':
			depth := 0
			j := i
			for ; j < len(s); j++ {
				switch s[j] {
				case '\\':
					j++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
			if j >= len(s) {
				pr.add(ProblemUnbalanced)
				i = len(s)
			} else {
				i = j + 1
			}
			space = true
			continue
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			end := j + 1
			if j >= len(s) {
				pr.add(ProblemUnbalanced)
				end = len(s)
			}
			lx.push(token{kind: tQuoted, pos: i, end: end}, &space)
			i = end
			continue
		case c == '[':
			j := i + 1
			for j < len(s) && s[j] != ']' && s[j] != '[' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			end := j + 1
			if j >= len(s) || s[j] != ']' {
				pr.add(ProblemUnbalanced)
				end = min(j, len(s))
			}
			lx.push(token{kind: tLiteral, pos: i, end: end}, &space)
			i = end
			continue
		case strings.IndexByte("<>@,;:.", c) >= 0:
			lx.push(token{kind: tSpecial, c: c, pos: i, end: i + 1}, &space)
			i++
			continue
		}
		if e := encodedWordEnd(s, i); e > 0 {
			lx.encoded = append(lx.encoded, [2]int{i, e})
			lx.push(token{kind: tEncoded, pos: i, end: e}, &space)
			i = e
			continue
		}
		if isAtext(c) {
			j := i
			for j < len(s) && isAtext(s[j]) {
				if j > i && s[j] == '=' && encodedWordEnd(s, j) > 0 {
					break
				}
				j++
			}
			lx.push(token{kind: tAtom, pos: i, end: j}, &space)
			i = j
			continue
		}
		if c == ')' || c == ']' {
			pr.add(ProblemUnbalanced)
		}
		lx.push(token{kind: tJunk, pos: i, end: i + 1}, &space)
		i++
	}
	return lx
}

func (lx *lexed) push(t token, space *bool) {
	t.spaceBefore = *space
	*space = false
	lx.toks = append(lx.toks, t)
}

// problems collects Problems once each, in order of first appearance.
type problems struct {
	list []Problem
}

func (p *problems) add(x Problem) {
	for _, y := range p.list {
		if y == x {
			return
		}
	}
	p.list = append(p.list, x)
}

func (p *problems) has(x Problem) bool {
	for _, y := range p.list {
		if y == x {
			return true
		}
	}
	return false
}
