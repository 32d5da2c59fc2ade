package spf

import (
	"net"
	"strings"
)

// maxHeaderLine is the RFC 5322 §2.1.1 recommended line length.
const maxHeaderLine = 78

// maxProblemLen bounds the problem= value; the full text is for logs.
const maxProblemLen = 200

// maxValueLen bounds every other key=value pair (a domain name is at most
// 255 octets, RFC 1035 §2.3.4; an address at most 254, RFC 5321 §4.5.3.1).
const maxValueLen = 255

// ReceivedSPF formats the value of a Received-SPF header field (RFC 7208
// §9.1), without the "Received-SPF:" name: the result, a comment in words,
// and the key=value pairs client-ip, envelope-from (MAIL FROM identity
// only), helo, receiver, identity, and mechanism (for a match or "default")
// or problem (for errors and none).
//
// Every value comes from the network, so every value is sanitized: CR, LF,
// other controls and non-ASCII characters become "?", values that are not a
// dot-atom are written as RFC 5322 quoted-strings, and comment text escapes
// "(", ")" and "\". Lines are folded with CRLF TAB so that, counting the
// 14-octet "Received-SPF: " prefix, none exceeds 78 octets unless a single
// value is longer than that.
func ReceivedSPF(o Outcome, clientIP net.IP, helo, receiver string) string {
	ip := ""
	if v4 := clientIP.To4(); v4 != nil {
		ip = v4.String()
	} else if clientIP != nil {
		ip = clientIP.String()
	}
	who := receiver
	if who == "" {
		who = "unknown"
	}
	sender := o.Sender
	var words string
	switch o.Result {
	case Pass:
		words = "domain of " + sender + " designates " + ip + " as permitted sender"
	case Fail:
		words = "domain of " + sender + " does not designate " + ip + " as permitted sender"
	case SoftFail:
		words = "domain of transitioning " + sender + " does not designate " + ip + " as permitted sender"
	case Neutral:
		words = ip + " is neither permitted nor denied by domain of " + sender
	case None:
		words = "domain of " + sender + " does not designate permitted sender hosts"
	case TempError:
		words = "temporary error checking domain of " + sender
	case PermError:
		words = "permanent error in SPF policy of domain of " + sender
	default:
		words = "unknown result for " + sender
	}

	var tokens []string
	tokens = append(tokens, headerToken(string(o.Result)))
	// The comment is split into words so that it can be folded between
	// them: FWS is allowed anywhere in a comment (RFC 5322 §3.2.2).
	commentWords := strings.Fields(commentText(who + ": " + words))
	for i, w := range commentWords {
		if i == 0 {
			w = "(" + w
		}
		if i == len(commentWords)-1 {
			w += ")"
		}
		tokens = append(tokens, w)
	}
	kv := func(k, v string) {
		tokens = append(tokens, k+"="+headerValue(v)+";")
	}
	if ip != "" {
		kv("client-ip", ip)
	}
	if o.Identity != IdentityHelo && sender != "" {
		kv("envelope-from", sender)
	}
	if helo != "" {
		kv("helo", helo)
	}
	if receiver != "" {
		kv("receiver", receiver)
	}
	if o.Identity != "" {
		kv("identity", o.Identity)
	}
	switch o.Result {
	case Pass, Fail, SoftFail, Neutral:
		m := o.Mechanism
		if m == "" {
			m = "default" // §9.1: "if no mechanisms matched, substitute the word default"
		}
		kv("mechanism", m)
	default:
		if o.Problem != "" {
			p := o.Problem
			if len(p) > maxProblemLen {
				p = p[:maxProblemLen]
			}
			kv("problem", p)
		}
	}
	return fold(tokens, len("Received-SPF: "))
}

// fold joins tokens with single spaces, replacing the space by CRLF TAB
// where the line would otherwise exceed maxHeaderLine.
func fold(tokens []string, start int) string {
	var b strings.Builder
	col := start
	for i, t := range tokens {
		switch {
		case i == 0:
		case col+1+len(t) > maxHeaderLine && col > 1:
			b.WriteString("\r\n\t")
			col = 1
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(t)
		col += len(t)
	}
	return b.String()
}

// asciiOnly replaces controls, DEL and non-ASCII characters (per rune, so
// one UTF-8 character becomes one "?") and collapses nothing else.
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r >= 0x7f {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// headerToken sanitizes a bare token (the result keyword).
func headerToken(s string) string {
	s = asciiOnly(s)
	if isDotAtom(s) {
		return s
	}
	return quoteString(s)
}

// commentText makes s safe inside an RFC 5322 comment: ctext excludes "(",
// ")" and "\", which are written as quoted-pairs.
func commentText(s string) string {
	s = asciiOnly(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '(' || c == ')' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// headerValue renders a key-value-pair value as dot-atom or quoted-string
// (RFC 7208 §9.1 ABNF).
func headerValue(s string) string {
	s = asciiOnly(s)
	// A HELO name or envelope sender is the client's to choose: bound it
	// so that no line can approach RFC 5322's 998-octet limit.
	if len(s) > maxValueLen {
		s = s[:maxValueLen]
	}
	if isDotAtom(s) {
		return s
	}
	return quoteString(s)
}

func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isDotAtom implements RFC 5322 §3.2.3 dot-atom-text.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '.' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
