package msghdr

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrUnparseable is wrapped by ParseReceived when the client IP address of
// the time-stamp line cannot be determined without guessing.
var ErrUnparseable = errors.New("msghdr: unparseable Received field")

// Hop is what one of our own relays recorded about its SMTP client in the
// Received field it wrote (RFC 5321 §4.4, RFC 5322 §3.6.7).
type Hop struct {
	// Helo is the HELO/EHLO argument as the relay recorded it.
	Helo string
	// IP is the client address the relay saw on the TCP connection; IPv4
	// addresses (also IPv4-mapped IPv6 ones) are in 4-byte form.
	IP net.IP
	// RDNS is the client's reverse DNS name as the relay recorded it; ""
	// when the relay wrote none, wrote "unknown", or flagged it "may be
	// forged" (Sendmail: the forward lookup did not confirm it).
	RDNS string
	// By, With and ID are the by, with and id clauses (With may be several
	// words, as in Microsoft's "Microsoft SMTP Server").
	By   string
	With string
	ID   string
}

// ParseReceived parses the Received field that a trusted border relay
// prepended, and returns the original client's address, HELO name and
// reverse DNS name. Only the from clause and the comment written right
// after it are used for the address:
//
//	from HELO (RDNS [IP])                Postfix, Sendmail ("unknown" RDNS too)
//	from HELO (RDNS [IP] (may be forged)) Sendmail
//	from HELO ([IP]) / from HELO ([IP]:port)
//	from HELO (RDNS [IPv6:2001:db8::1])  IPv6 address literal (RFC 5321 §4.1.3)
//	from RDNS ([IP]:port helo=HELO)      Exim
//	from [IP] (helo=HELO)                Exim without reverse DNS
//	from HELO (IP)                       Microsoft, qmail (no brackets)
//	from RDNS (HELO HELO) (IP)           qmail
//	from [IP]                            no comment: the literal is the address
//
// The HELO argument is written by the client, so it is taken as one word up
// to white space (as Postfix, Sendmail and Exim record it) and never
// searched for an address; neither are the by, for or later comments (TLS
// details, authenticated sender, certificate names), which clients or
// their PTR records also influence. Anything else is refused with an error
// wrapping ErrUnparseable rather than guessed.
func ParseReceived(value string) (Hop, error) {
	var h Hop
	s := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, value)
	s = strings.TrimLeft(s, " ")
	if len(s) < 5 || !strings.EqualFold(s[:4], "from") || s[4] != ' ' {
		return h, fmt.Errorf("%w: no from clause", ErrUnparseable)
	}
	s = strings.TrimLeft(s[4:], " ")
	n := strings.IndexByte(s, ' ')
	if n < 0 {
		n = len(s)
	}
	fromWord := s[:n]
	if fromWord == "" || fromWord[0] == '(' || fromWord[0] == ';' {
		return h, fmt.Errorf("%w: empty from clause", ErrUnparseable)
	}
	s = strings.TrimLeft(s[n:], " ")
	h.Helo = fromWord

	comment, rest, hasComment, err := takeComment(s)
	if err != nil {
		return h, err
	}
	fromLiteral := strings.HasPrefix(fromWord, "[")
	if hasComment && strings.HasPrefix(comment, "HELO ") {
		// qmail: "from RDNS (HELO helo) (IP)".
		if helo := strings.TrimSpace(comment[len("HELO "):]); helo != "" {
			h.Helo = helo
		}
		if fromWord != "unknown" && !fromLiteral {
			h.RDNS = fromWord
		}
		comment, rest, hasComment, err = takeComment(rest)
		if err != nil {
			return h, err
		}
		if !hasComment {
			return h, fmt.Errorf("%w: qmail form without address comment", ErrUnparseable)
		}
	}
	switch {
	case !hasComment && fromLiteral:
		ip, err := parseLiteral(fromWord)
		if err != nil {
			return h, err
		}
		h.IP = ip
	case !hasComment:
		return h, fmt.Errorf("%w: no address comment after %q", ErrUnparseable, fromWord)
	default:
		if err := h.fromComment(comment, fromWord); err != nil {
			return h, err
		}
	}
	h.clauses(rest)
	return h, nil
}

// takeComment reads one RFC 5322 §3.2.2 comment (nested, with quoted-pairs)
// at the start of s and returns its content without the outer parentheses.
func takeComment(s string) (content, rest string, ok bool, err error) {
	if !strings.HasPrefix(s, "(") {
		return "", s, false, nil
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[1:i], strings.TrimLeft(s[i+1:], " "), true, nil
			}
		}
	}
	return "", "", false, fmt.Errorf("%w: unterminated comment", ErrUnparseable)
}

// fromComment reads the address comment that the relay wrote after the
// from word.
func (h *Hop) fromComment(c, fromWord string) error {
	var words []string
	forged := false
	for c = strings.TrimLeft(c, " "); c != ""; c = strings.TrimLeft(c, " ") {
		if c[0] == '(' {
			inner, rest, _, err := takeComment(c)
			if err != nil {
				return err
			}
			if strings.EqualFold(strings.TrimSpace(inner), "may be forged") {
				forged = true
			}
			c = rest
			continue
		}
		n := strings.IndexAny(c, " (")
		if n < 0 {
			n = len(c)
		}
		words = append(words, c[:n])
		c = c[n:]
	}
	lit := -1
	helo := ""
	for i, w := range words {
		switch {
		case strings.HasPrefix(strings.ToLower(w), "helo="):
			helo = w[len("helo="):]
		case strings.HasPrefix(w, "["):
			if lit >= 0 {
				return fmt.Errorf("%w: several address literals in one comment", ErrUnparseable)
			}
			lit = i
		}
	}
	fromLiteral := strings.HasPrefix(fromWord, "[")
	switch {
	case lit >= 0:
		ip, err := parseLiteral(words[lit])
		if err != nil {
			return err
		}
		h.IP = ip
		if lit > 0 {
			h.RDNS = hostName(words[lit-1])
		}
		if helo != "" {
			// Exim: "from RDNS ([IP] helo=HELO)".
			h.Helo = helo
			if !fromLiteral && lit == 0 {
				h.RDNS = fromWord
			}
		}
	case len(words) == 1 && helo == "":
		// Microsoft and qmail write the address without brackets.
		ip := net.ParseIP(words[0])
		if ip == nil {
			return fmt.Errorf("%w: %q is not an address", ErrUnparseable, words[0])
		}
		h.IP = normIP(ip)
	case fromLiteral:
		// Exim without reverse DNS: "from [IP] (helo=HELO)".
		ip, err := parseLiteral(fromWord)
		if err != nil {
			return err
		}
		h.IP = ip
		if helo != "" {
			h.Helo = helo
		}
	default:
		return fmt.Errorf("%w: no client address in the from clause", ErrUnparseable)
	}
	if forged {
		h.RDNS = ""
	}
	return nil
}

// hostName returns w as a reverse DNS name, or "" for "unknown" and for
// words that cannot be one (Sendmail "user@host" ident answers keep the host).
func hostName(w string) string {
	if i := strings.LastIndexByte(w, '@'); i >= 0 {
		w = w[i+1:]
	}
	if w == "" || strings.EqualFold(w, "unknown") || strings.ContainsAny(w, "=[]()\"<>") {
		return ""
	}
	return w
}

// parseLiteral parses an RFC 5321 §4.1.3 address literal "[192.0.2.1]" or
// "[IPv6:2001:db8::1]" (a bare IPv6 address inside brackets, as Exim and
// Courier write it, is accepted), optionally followed by ":port".
func parseLiteral(w string) (net.IP, error) {
	end := strings.IndexByte(w, ']')
	if !strings.HasPrefix(w, "[") || end < 0 {
		return nil, fmt.Errorf("%w: bad address literal %q", ErrUnparseable, w)
	}
	if tail := w[end+1:]; tail != "" {
		if !strings.HasPrefix(tail, ":") || len(tail) > 6 || strings.Trim(tail[1:], "0123456789") != "" || len(tail) == 1 {
			return nil, fmt.Errorf("%w: bad address literal %q", ErrUnparseable, w)
		}
	}
	inner := w[1:end]
	v6 := false
	if len(inner) >= 5 && strings.EqualFold(inner[:5], "IPv6:") {
		inner = inner[5:]
		v6 = true
	}
	ip := net.ParseIP(inner)
	if ip == nil || strings.Contains(inner, "%") || (v6 && !strings.Contains(inner, ":")) {
		return nil, fmt.Errorf("%w: bad address literal %q", ErrUnparseable, w)
	}
	return normIP(ip), nil
}

func normIP(ip net.IP) net.IP {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// clauses reads by, with and id (RFC 5321 §4.4 Stamp) from what follows the
// from clause, up to the last ';' that starts the date.
func (h *Hop) clauses(s string) {
	if i := strings.LastIndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	var words []string
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		if s[0] == '(' {
			_, rest, _, err := takeComment(s)
			if err != nil {
				break
			}
			words = append(words, "(")
			s = rest
			continue
		}
		n := strings.IndexAny(s, " (")
		if n < 0 {
			n = len(s)
		}
		words = append(words, s[:n])
		s = s[n:]
	}
	isKey := func(w string) bool {
		switch strings.ToLower(w) {
		case "by", "via", "with", "id", "for", "from":
			return true
		}
		return false
	}
	for i := 0; i < len(words); i++ {
		key := strings.ToLower(words[i])
		if !isKey(key) || i+1 >= len(words) || words[i+1] == "(" || isKey(words[i+1]) {
			continue
		}
		switch key {
		case "by":
			if h.By == "" {
				h.By = words[i+1]
			}
		case "id":
			if h.ID == "" {
				h.ID = words[i+1]
			}
		case "with":
			if h.With == "" {
				j := i + 1
				for j < len(words) && words[j] != "(" && !isKey(words[j]) {
					j++
				}
				h.With = strings.Join(words[i+1:j], " ")
			}
		}
	}
}
