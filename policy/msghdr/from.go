package msghdr

import (
	"io"
	"mime"
	"sort"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
)

// Author is one mailbox of a From field (RFC 5322 §3.4).
type Author struct {
	// Address is the addr-spec as written, with comments and folding white
	// space removed ("user@Example.COM"). Quoted local parts keep their
	// quotes. Empty for "<>".
	Address string
	// Local is the local part as written (quotes kept), possibly UTF-8
	// (RFC 6532).
	Local string
	// Domain is the author domain in lower-case A-label form without a
	// trailing dot, ready for the DMARC lookup (RFC 7489 §3.2, §6.6.1). It
	// is "" when the address has no usable domain (none, a domain literal,
	// an invalid name or IDN); Problems says which.
	Domain string
	// Display is the display name with quoting removed, RFC 2047 encoded
	// words decoded and white space collapsed. Informational only.
	Display string
}

// Authors is the result of ParseFrom.
type Authors struct {
	// Fields is the number of From fields given.
	Fields int
	// List holds every mailbox found, in order of appearance across all
	// fields, including those without a usable domain. It is not
	// deduplicated: "a@x, a@x" gives two entries.
	List []Author
	// Domains holds every distinct author domain (lower-case A-labels), in
	// order of appearance. For a field with ProblemSyntax or
	// ProblemUnbalanced it also holds every valid domain that follows an
	// '@' anywhere outside encoded words, because a lenient reader (a mail
	// client, a spam filter, a person) could take any of them for the
	// author; a policy that evaluates each and takes the strictest result is
	// then safe whatever the reader believed.
	Domains []string
	// Problems lists every oddity, each once, in order of first
	// appearance. It is empty for a clean From field with a single author
	// (RFC 7489 §6.6.1).
	Problems []Problem
}

// ParseFrom parses all From field values of a message, in order, as the
// milter received them (without the "From:" name). It never fails and never
// panics; malformed input is reported in Problems.
//
// RFC 7489 §6.6.1 and RFC 9989 leave messages with zero or several From
// fields, or several author domains, to local policy; ParseFrom reports
// them (ProblemNoFrom, ProblemMultipleFields, ProblemMultipleDomains) and
// lists every domain so that the caller can choose.
func ParseFrom(values []string) Authors {
	var res Authors
	var pr problems
	res.Fields = len(values)
	switch {
	case len(values) == 0:
		pr.add(ProblemNoFrom)
	case len(values) > 1:
		pr.add(ProblemMultipleFields)
	}
	seen := map[string]bool{}
	for _, v := range values {
		list, doms := parseField(v, &pr)
		res.List = append(res.List, list...)
		for _, d := range doms {
			if !seen[d.domain] {
				seen[d.domain] = true
				res.Domains = append(res.Domains, d.domain)
			}
		}
	}
	if len(res.Domains) > 1 {
		pr.add(ProblemMultipleDomains)
	}
	res.Problems = pr.list
	return res
}

// fieldParser is a recursive-descent parser over the tokens of one field,
// for from = "From:" mailbox-list (RFC 5322 §3.6.2) with the obsolete forms
// of §4.4 and the group syntax of RFC 6854, recovering from errors so that
// every address is still seen.
type fieldParser struct {
	lx      *lexed
	p       int
	pr      problems
	authors []Author
	doms    []posDomain
}

func parseField(v string, global *problems) ([]Author, []posDomain) {
	fp := &fieldParser{}
	s := unfold(v, &fp.pr)
	fp.lx = lex(s, &fp.pr)
	toks := fp.lx.toks
	if len(toks) == 0 {
		fp.pr.add(ProblemEmptyField)
	}
	count := 0
	prevSep := true
	for fp.p < len(toks) {
		t := toks[fp.p]
		if t.kind == tSpecial && t.c == ',' {
			if prevSep {
				// obs-mbox-list allows empty elements (RFC 5322 §4.4).
				fp.pr.add(ProblemObsolete)
			}
			prevSep = true
			fp.p++
			continue
		}
		if !prevSep {
			// Something follows an address without a comma between.
			fp.pr.add(ProblemSyntax)
		}
		before := len(fp.authors)
		if !fp.item(false) {
			fp.pr.add(ProblemSyntax)
			if t.kind == tSpecial && t.c == '>' {
				fp.pr.add(ProblemUnbalanced)
			}
			fp.p++
			prevSep = true
			continue
		}
		count += len(fp.authors) - before
		prevSep = false
	}
	if count > 1 {
		fp.pr.add(ProblemMultipleAddresses)
	}
	if len(toks) > 0 && count == 0 {
		fp.pr.add(ProblemNoAddress)
	}
	doms := fp.doms
	if fp.pr.has(ProblemSyntax) || fp.pr.has(ProblemUnbalanced) {
		// A field a strict parser rejects is read differently by different
		// readers: add every domain a lenient reader could find.
		doms = append(doms, lenientDomains(s, fp.lx.encoded)...)
		sort.SliceStable(doms, func(i, j int) bool { return doms[i].pos < doms[j].pos })
	}
	for _, x := range fp.pr.list {
		global.add(x)
	}
	return fp.authors, doms
}

func (fp *fieldParser) peek() *token {
	if fp.p < len(fp.lx.toks) {
		return &fp.lx.toks[fp.p]
	}
	return nil
}

func (fp *fieldParser) isSpecial(c byte) bool {
	t := fp.peek()
	return t != nil && t.kind == tSpecial && t.c == c
}

// words collects a run of words and dots: a phrase (§3.2.5, obs-phrase of
// §4.1) or a local part (§3.4.1, obs-local-part of §4.4).
func (fp *fieldParser) words() []token {
	start := fp.p
	for t := fp.peek(); t != nil; t = fp.peek() {
		if t.kind == tAtom || t.kind == tQuoted || t.kind == tEncoded || (t.kind == tSpecial && t.c == '.') {
			fp.p++
			continue
		}
		break
	}
	return fp.lx.toks[start:fp.p]
}

// item parses one address or group. It reports false, without consuming
// anything, when the next token cannot start one.
func (fp *fieldParser) item(inGroup bool) bool {
	start := fp.p
	ws := fp.words()
	t := fp.peek()
	switch {
	case t != nil && t.kind == tSpecial && t.c == '<':
		fp.angle(ws)
		return true
	case t != nil && t.kind == tSpecial && t.c == '@':
		fp.addrSpec(ws, nil)
		return true
	case t != nil && t.kind == tSpecial && t.c == ':' && !inGroup:
		fp.group()
		return true
	case t != nil && t.kind == tSpecial && t.c == ':':
		// A group inside a group: skip the inner name, keep its members.
		fp.pr.add(ProblemSyntax)
		fp.p++
		return true
	}
	if len(ws) == 0 {
		fp.p = start
		return false
	}
	// Words not followed by an address. A lone dot-atom ("joe") is an
	// address without a domain; anything else, a lone quoted string
	// included, is a name without an address.
	if hasQuoted(ws) {
		fp.pr.add(ProblemNoAddress)
	} else if local, ok := fp.localPart(ws, true); ok {
		fp.authors = append(fp.authors, Author{Address: local, Local: local})
		fp.pr.add(ProblemNoDomain)
	} else {
		fp.pr.add(ProblemNoAddress)
	}
	return true
}

// group parses "display-name : [group-list] ;" (RFC 5322 §3.4, RFC 6854).
func (fp *fieldParser) group() {
	fp.pr.add(ProblemGroup)
	fp.p++ // ':'
	members := 0
	for {
		t := fp.peek()
		if t == nil {
			fp.pr.add(ProblemSyntax) // group without ';'
			break
		}
		if t.kind == tSpecial && t.c == ';' {
			fp.p++
			break
		}
		if t.kind == tSpecial && t.c == ',' {
			fp.p++
			continue
		}
		before := len(fp.authors)
		if !fp.item(true) {
			fp.pr.add(ProblemSyntax)
			fp.p++
			continue
		}
		members += len(fp.authors) - before
	}
	if members == 0 {
		fp.pr.add(ProblemEmptyGroup)
	}
}

// angle parses "[display-name] < [obs-route] addr-spec >".
func (fp *fieldParser) angle(display []token) {
	fp.p++ // '<'
	if fp.isSpecial('>') {
		fp.p++
		fp.pr.add(ProblemNoAddress) // "<>" is no mailbox
		return
	}
	if fp.isSpecial('@') || fp.isSpecial(',') {
		// obs-route = obs-domain-list ":" (RFC 5322 §4.4). The route
		// domains are relays, not authors.
		fp.pr.add(ProblemRoute)
		for {
			t := fp.peek()
			if t == nil || (t.kind == tSpecial && (t.c == ':' || t.c == '>' || t.c == '<')) {
				break
			}
			fp.p++
		}
		if !fp.isSpecial(':') {
			fp.pr.add(ProblemSyntax)
		} else {
			fp.p++
		}
	}
	ws := fp.words()
	if fp.isSpecial('@') {
		fp.addrSpec(ws, display)
	} else if local, ok := fp.localPart(ws, false); ok {
		fp.authors = append(fp.authors, Author{Address: local, Local: local, Display: displayName(fp.lx, display)})
		fp.pr.add(ProblemNoDomain)
	} else {
		fp.pr.add(ProblemSyntax)
	}
	if fp.isSpecial('>') {
		fp.p++
		return
	}
	// Missing '>': leave whatever follows for the caller to resync on.
	fp.pr.add(ProblemUnbalanced)
	fp.pr.add(ProblemSyntax)
}

// localPart validates a local part (RFC 5322 §3.4.1 dot-atom / quoted-string,
// obs-local-part of §4.4) and returns it without CFWS. With strict set, an
// invalid sequence is not a local part; otherwise the last word chain is
// taken and ProblemSyntax reported.
func (fp *fieldParser) localPart(ws []token, strict bool) (string, bool) {
	if len(ws) == 0 {
		return "", false
	}
	adjacent, badDots, encoded, obs := false, false, false, false
	quoted := 0
	for i, t := range ws {
		isDot := t.kind == tSpecial
		if i > 0 {
			prevDot := ws[i-1].kind == tSpecial
			adjacent = adjacent || (!isDot && !prevDot)
			badDots = badDots || (isDot && prevDot)
			obs = obs || t.spaceBefore
		}
		encoded = encoded || t.kind == tEncoded
		if t.kind == tQuoted {
			quoted++
		}
	}
	if ws[0].kind == tSpecial || ws[len(ws)-1].kind == tSpecial {
		badDots = true
	}
	if quoted > 0 && len(ws) > 1 {
		obs = true // obs-local-part: words joined by dots (RFC 5322 §4.4)
	}
	if strict && (adjacent || encoded || badDots) {
		return "", false
	}
	switch {
	case encoded || adjacent:
		if encoded {
			fp.pr.add(ProblemEncodedWord)
		}
		fp.pr.add(ProblemSyntax)
		// Take the chain written without white space just before '@'.
		i := len(ws) - 1
		for i > 0 && !ws[i].spaceBefore {
			i--
		}
		ws = ws[i:]
	case badDots:
		// "user.@", ".user@", "a..b@": invalid, yet common from some
		// Japanese mobile carriers; the domain is unaffected.
		fp.pr.add(ProblemLocalPartDots)
	case obs:
		fp.pr.add(ProblemObsolete)
	}
	var b strings.Builder
	for _, t := range ws {
		b.WriteString(fp.lx.raw(t))
	}
	return b.String(), true
}

// addrSpec parses "@ domain" after the local-part words (RFC 5322 §3.4.1).
func (fp *fieldParser) addrSpec(localWords, display []token) {
	a := Author{Display: displayName(fp.lx, display)}
	if len(localWords) == 0 {
		fp.pr.add(ProblemSyntax) // "@domain" without a local part
	} else {
		a.Local, _ = fp.localPart(localWords, false)
	}
	fp.p++ // '@'
	t := fp.peek()
	var rawDomain string
	switch {
	case t != nil && t.kind == tLiteral:
		// domain-literal (§3.4.1): no DMARC policy can be found for it.
		fp.p++
		rawDomain = fp.lx.raw(*t)
		fp.pr.add(ProblemDomainLiteral)
	default:
		// dot-atom or obs-domain (RFC 5322 §4.4): atoms separated by dots.
		// Two words without a dot between end the domain, so that
		// "a@b.example c@d.example" does not become one name.
		start := fp.p
		wantWord := true
		for t := fp.peek(); t != nil; t = fp.peek() {
			isWord := t.kind == tAtom || t.kind == tEncoded || t.kind == tQuoted
			if isWord && !wantWord {
				break
			}
			if isWord || (t.kind == tSpecial && t.c == '.') {
				wantWord = !isWord
				if fp.p > start && t.spaceBefore {
					fp.pr.add(ProblemObsolete) // obs-domain with CFWS
				}
				if t.kind == tEncoded {
					fp.pr.add(ProblemEncodedWord)
				}
				if t.kind == tQuoted {
					fp.pr.add(ProblemSyntax)
				}
				fp.p++
				continue
			}
			break
		}
		var b strings.Builder
		for _, t := range fp.lx.toks[start:fp.p] {
			b.WriteString(fp.lx.raw(t))
		}
		rawDomain = b.String()
		name := rawDomain
		if strings.HasSuffix(name, ".") && !strings.HasSuffix(name, "..") && len(name) > 1 {
			fp.pr.add(ProblemTrailingDot)
			name = name[:len(name)-1]
		}
		switch {
		case name == "":
			fp.pr.add(ProblemNoDomain)
			fp.pr.add(ProblemSyntax)
		default:
			d, prob := normalizeDomain(name)
			if prob != "" {
				fp.pr.add(prob)
			} else {
				a.Domain = d
				fp.doms = append(fp.doms, posDomain{pos: fp.lx.toks[start].pos, domain: d})
			}
		}
	}
	a.Address = a.Local + "@" + rawDomain
	if a.Domain != "" && a.Display != "" {
		for _, d := range lenientDomains(a.Display, nil) {
			if d.domain != a.Domain {
				fp.pr.add(ProblemDisplayNameDomain)
			}
		}
	}
	fp.authors = append(fp.authors, a)
}

// wordDecoder decodes RFC 2047 encoded words in display names, with every
// charset the WHATWG encoding standard knows.
var wordDecoder = &mime.WordDecoder{
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(charset)
		if err != nil {
			return nil, err
		}
		return enc.NewDecoder().Reader(input), nil
	},
}

// displayName renders a phrase for humans: quoted strings unquoted, encoded
// words decoded (RFC 2047 §6.2: white space between adjacent encoded words
// is dropped), runs of white space collapsed. The result is never parsed
// for addresses that would count as authors.
func displayName(lx *lexed, ws []token) string {
	if len(ws) == 0 {
		return ""
	}
	var b strings.Builder
	for i, t := range ws {
		if i > 0 && t.spaceBefore {
			b.WriteByte(' ')
		}
		switch t.kind {
		case tQuoted:
			b.WriteString(unquote(lx.raw(t)))
		default:
			b.WriteString(lx.raw(t))
		}
	}
	raw := b.String()
	if dec, err := wordDecoder.DecodeHeader(raw); err == nil {
		raw = dec
	}
	return strings.Join(strings.Fields(raw), " ")
}

func hasQuoted(ws []token) bool {
	for _, t := range ws {
		if t.kind == tQuoted {
			return true
		}
	}
	return false
}
