package authres

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// headerName is what the caller puts before the value; its length counts
	// on the first physical line.
	headerName = "Authentication-Results:"
	// maxLineLen is the RFC 5322 §2.1.1 SHOULD limit (excluding CRLF). The
	// MUST limit of 998 is kept by bounding every unbreakable piece below.
	maxLineLen = 78
	// maxKeywordLen bounds method, result, ptype and property names.
	maxKeywordLen = 64
	// maxValueLen bounds property values and the authserv-id before quoting,
	// so that even fully escaped ("\"" for every octet) a piece stays far
	// below 998 octets. A DKIM header.b needs only a prefix (RFC 6008 §2).
	maxValueLen = 255
	// maxTextLen bounds reasons and comments; longer ones end in "...".
	maxTextLen = 255
)

// Format returns the header field VALUE (what follows "Authentication-Results:"),
// starting with a space, folded with "\r\n\t" so each physical line stays <= 78
// octets where possible (never > 998), with authserv-id first and then each
// resinfo separated by ";". An empty results list writes "none" (§2.2).
//
// When the whole field fits on one 78-octet line it is written on one line;
// otherwise every resinfo starts a new line ("\r\n\t") and long resinfos are
// folded the same way between their elements. A quoted-string or comment that
// does not fit is folded at one of its own spaces by putting "\r\n" before
// that space (RFC 5322 §3.2.2 and §3.2.4 allow FWS there, and unfolding per
// §2.2.3 gives back the same text). A single unit longer than a line (a long
// token without spaces) gets a line of its own; it stays below 998 octets
// because every value is bounded.
// See the package documentation for how input is sanitized.
func Format(authservID string, results []Result) string {
	id, res := normalize(authservID, results)
	var b builder
	b.value(id, brkSpace)
	b.glue(";")
	if len(res) == 0 {
		// RFC 8601 §2.2 no-result.
		b.add("none", brkFWS)
	} else {
		for i, r := range res {
			if i > 0 {
				b.glue(";")
			}
			b.add(r.Method+"="+r.Value, brkResinfo)
			if r.Comment != "" {
				b.comment(r.Comment)
			}
			if r.Reason != "" {
				// RFC 8601 §2.2 reasonspec; always a quoted-string.
				b.quoted("reason=", r.Reason, brkFWS)
			}
			for _, p := range r.Props {
				b.prop(p)
			}
		}
	}
	if oneLine := b.render(false); len(headerName)+len(oneLine) <= maxLineLen {
		return oneLine
	}
	return b.render(true)
}

// normalize applies the sanitizing rules of the package documentation. It is
// what Format writes and therefore what Parse reads back from Format's output.
func normalize(authservID string, results []Result) (string, []Result) {
	id := sanitizeValue(authservID)
	var out []Result
	for _, r := range results {
		m, ok := normMethod(r.Method)
		if !ok {
			continue
		}
		v, ok := normKeyword(r.Value)
		if !ok {
			continue
		}
		n := Result{
			Method:  m,
			Value:   v,
			Reason:  sanitizeText(r.Reason),
			Comment: sanitizeText(r.Comment),
		}
		for _, p := range r.Props {
			t, ok1 := normKeyword(p.Type)
			name, ok2 := normKeyword(p.Name)
			if !ok1 || !ok2 {
				continue
			}
			n.Props = append(n.Props, Property{Type: t, Name: name, Value: sanitizeValue(p.Value)})
		}
		out = append(out, n)
	}
	return id, out
}

// isKeyword reports whether s is an RFC 5321 §4.1.2 Ldh-str, the "Keyword" of
// RFC 8601 §2.2: letters, digits and hyphens, not ending in a hyphen.
func isKeyword(s string) bool {
	if s == "" || len(s) > maxKeywordLen || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isLDH(s[i]) {
			return false
		}
	}
	return true
}

func normKeyword(s string) (string, bool) {
	if !isKeyword(s) {
		return "", false
	}
	return strings.ToLower(s), true
}

// normMethod accepts a Keyword with an optional "/" method-version
// (RFC 8601 §2.2 method = Keyword [ [CFWS] "/" [CFWS] method-version ]).
func normMethod(s string) (string, bool) {
	name, version, hasVersion := strings.Cut(s, "/")
	kw, ok := normKeyword(name)
	if !ok {
		return "", false
	}
	if !hasVersion {
		return kw, true
	}
	if version == "" || len(version) > 9 || strings.Trim(version, "0123456789") != "" {
		return "", false
	}
	return kw + "/" + version, true
}

// cleanText turns invalid UTF-8 and every control character into a space,
// collapses white space and trims it. No CR or LF survives it, which is what
// prevents header injection. It stops after limit+1 characters: every
// character becomes at least one output octet, so the caller still sees that
// the text was too long, and hostile megabytes cost nothing.
func cleanText(s string, limit int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*(limit+1)))
	space := false
	n := 0
	for i := 0; i < len(s) && n <= limit; {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 || r < 0x20 || r == 0x7f || unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			n++
		}
		space = false
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// asciiOnly replaces every non-ASCII character by '?' (see "8-bit data" in
// the package documentation).
func asciiOnly(s string) string {
	if isASCII(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r >= utf8.RuneSelf {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// sanitizeText prepares a reason or comment: cleaned, 7-bit, bounded, with
// "..." showing that it was cut.
func sanitizeText(s string) string {
	s = asciiOnly(cleanText(s, maxTextLen))
	if len(s) > maxTextLen {
		s = strings.TrimRight(s[:maxTextLen-3], " ") + "..."
	}
	return s
}

// sanitizeValue prepares a property value or authserv-id: cleaned, with a
// U-label domain turned into A-labels, 7-bit and bounded. A cut value is not
// marked, so that a cut DKIM header.b stays a prefix of b= (RFC 6008 §2).
func sanitizeValue(s string) string {
	s = cleanText(s, maxValueLen)
	if !isASCII(s) {
		local, domain := "", s
		if at := strings.LastIndexByte(s, '@'); at >= 0 {
			local, domain = s[:at+1], s[at+1:]
		}
		if a, ok := domainToASCII(domain); ok {
			domain = a
		}
		s = asciiOnly(local) + asciiOnly(domain)
	}
	if len(s) > maxValueLen {
		s = strings.TrimRight(s[:maxValueLen], " ")
	}
	return s
}

// isTSpecial reports the RFC 2045 §5.1 tspecials.
func isTSpecial(c byte) bool {
	return strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0
}

// isToken reports whether s is an RFC 2045 §5.1 token (the "value" of
// RFC 8601 §2.2 when not quoted).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isTSpecial(c) {
			return false
		}
	}
	return true
}

// isAtext reports RFC 5322 §3.2.3 atext (ASCII only).
func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// isDotAtomText reports RFC 5322 §3.2.3 dot-atom-text.
func isDotAtomText(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isAtext(part[i]) {
				return false
			}
		}
	}
	return true
}

func isLDH(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// isDomainName reports RFC 6376 §3.5 domain-name: sub-domain 1*("." sub-domain),
// sub-domain being an RFC 5321 Let-dig [Ldh-str].
func isDomainName(s string) bool {
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isLDH(l[i]) {
				return false
			}
		}
	}
	return true
}

// isAddrPValue reports whether s may be written bare as the
// [ [ local-part ] "@" ] domain-name form of RFC 8601 §2.2 pvalue. Only
// dot-atom local-parts qualify; anything needing quotes is quoted whole.
func isAddrPValue(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	return (local == "" || isDotAtomText(local)) && isDomainName(domain)
}

// brk says what may happen just before a piece of output.
type brk int

const (
	brkNone    brk = iota // glued to the previous piece
	brkSpace              // one space that must not be folded (after the field name)
	brkFWS                // one space that may become "\r\n\t" (CFWS between elements)
	brkResinfo            // like brkFWS, but always folded in multi-line mode
	brkInner              // piece starts with a space inside a quoted-string or comment: "\r\n" may go before it
)

type piece struct {
	text string
	brk  brk
}

// builder collects the unbreakable pieces of a field value.
type builder struct {
	ps []piece
}

func (b *builder) add(text string, k brk) { b.ps = append(b.ps, piece{text, k}) }

func (b *builder) glue(text string) { b.add(text, brkNone) }

// value writes a sanitized value as a token, or else as a quoted-string.
func (b *builder) value(v string, k brk) {
	if isToken(v) {
		b.add(v, k)
		return
	}
	b.quoted("", v, k)
}

// prop writes one RFC 8601 §2.2 propspec.
func (b *builder) prop(p Property) {
	prefix := p.Type + "." + p.Name + "="
	if isToken(p.Value) || isAddrPValue(p.Value) {
		b.add(prefix+p.Value, brkFWS)
		return
	}
	b.quoted(prefix, p.Value, brkFWS)
}

// quoted writes prefix and s as an RFC 5322 §3.2.4 quoted-string, escaping
// '\' and '"' as quoted-pairs. s is sanitized, so it has no CR/LF and single
// spaces only; each space is a fold point (FWS inside the quoted-string).
func (b *builder) quoted(prefix, s string, k brk) {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	b.words(prefix+`"`, s, `"`, k)
}

// comment writes s as an RFC 5322 §3.2.2 comment, escaping '(', ')' and '\',
// so that unbalanced parentheses cannot end it early or swallow what follows.
func (b *builder) comment(s string) {
	s = strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(s)
	b.words("(", s, ")", brkFWS)
}

func (b *builder) words(open, s, closing string, k brk) {
	words := strings.Split(s, " ")
	for i, w := range words {
		text := " " + w
		kind := brkInner
		if i == 0 {
			text, kind = open+w, k
		}
		if i == len(words)-1 {
			text += closing
		}
		b.add(text, kind)
	}
}

// render joins the pieces; with fold set it starts each resinfo on its own
// line and folds greedily so lines stay within maxLineLen where a fold point
// exists.
func (b *builder) render(fold bool) string {
	var out strings.Builder
	col := len(headerName)
	for i, p := range b.ps {
		// A piece and the pieces glued after it (such as ";") go together.
		unit := len(p.text)
		for j := i + 1; j < len(b.ps) && b.ps[j].brk == brkNone; j++ {
			unit += len(b.ps[j].text)
		}
		switch p.brk {
		case brkNone:
			out.WriteString(p.text)
			col += len(p.text)
		case brkSpace:
			out.WriteString(" " + p.text)
			col += 1 + len(p.text)
		case brkFWS, brkResinfo:
			if fold && (p.brk == brkResinfo || col+1+unit > maxLineLen) {
				out.WriteString("\r\n\t" + p.text)
				col = 1 + len(p.text)
			} else {
				out.WriteString(" " + p.text)
				col += 1 + len(p.text)
			}
		case brkInner:
			// The piece begins with the space; folding puts CRLF before it
			// so unfolding (RFC 5322 §2.2.3) gives back the same text.
			if fold && col+unit > maxLineLen {
				out.WriteString("\r\n")
				col = 0
			}
			out.WriteString(p.text)
			col += len(p.text)
		}
	}
	return out.String()
}
