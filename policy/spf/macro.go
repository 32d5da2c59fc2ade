package spf

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// maxExpansion bounds the length of one expanded macro-string. Every macro
// value is bounded (an SMTP path is at most 256 octets, RFC 5321 §4.5.3.1.3)
// but a hostile record could still repeat "%{s}" thousands of times; the
// longest useful result is a 253-octet domain name or a one-line explanation.
const maxExpansion = 8192

// maxTransformerDigits caps the DIGIT transformer: more parts than a domain
// name can have (127) changes nothing, and the cap keeps parsing overflow-free.
const maxTransformerDigits = 128

// macroEnv holds what the macro letters expand to (RFC 7208 §7.3).
type macroEnv struct {
	sender       string // s
	local        string // l
	senderDomain string // o
	domain       string // d: the current domain, changed by include/redirect
	helo         string // h
	ip           net.IP // i, c, v: 4 bytes for IPv4 (incl. IPv4-mapped), else 16
	receiver     string // r
	now          time.Time
	// ptr computes %{p} lazily, because it costs DNS lookups (§7.3).
	ptr func() string
}

// checkMacroString validates macro-string syntax (RFC 7208 §7.1); exp
// enables the c, r and t letters, allowed only in explanation text (§7.3).
func checkMacroString(s string, exp bool) error {
	_, err := expandMacros(s, nil, exp)
	return err
}

// expandMacros expands s (RFC 7208 §7). With env == nil it only checks the
// syntax. Errors wrap ErrMacro.
func expandMacros(s string, env *macroEnv, exp bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			// macro-literal = %x21-24 / %x26-7E; explanation text may also
			// contain SP (§6.2 explain-string).
			if c < 0x21 || c > 0x7e {
				if !(exp && c == ' ') {
					return "", fmt.Errorf("%w: invalid character 0x%02x", ErrMacro, c)
				}
			}
			if env != nil {
				b.WriteByte(c)
			}
			continue
		}
		if i+1 >= len(s) {
			return "", fmt.Errorf("%w: %q ends in a lone %%", ErrMacro, printable(s))
		}
		i++
		switch s[i] {
		case '%': // §7.1: "%%" is a literal percent sign
			if env != nil {
				b.WriteByte('%')
			}
			continue
		case '_': // "%_" is a space
			if env != nil {
				b.WriteByte(' ')
			}
			continue
		case '-': // "%-" is a URL-encoded space
			if env != nil {
				b.WriteString("%20")
			}
			continue
		case '{':
		default:
			// §7.1/9: "%" followed by anything else is a syntax error.
			return "", fmt.Errorf("%w: %%%c in %q", ErrMacro, s[i], printable(s))
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%w: unterminated %%{ in %q", ErrMacro, printable(s))
		}
		body := s[i+1 : i+end]
		i += end
		v, err := expandOne(body, env, exp)
		if err != nil {
			return "", err
		}
		if env != nil {
			b.WriteString(v)
			if b.Len() > maxExpansion {
				return "", fmt.Errorf("%w: expansion longer than %d octets", ErrMacro, maxExpansion)
			}
		}
	}
	if b.Len() > maxExpansion {
		return "", fmt.Errorf("%w: expansion longer than %d octets", ErrMacro, maxExpansion)
	}
	return b.String(), nil
}

// expandOne expands the body of "%{" macro-letter transformers *delimiter
// "}" (RFC 7208 §7.1, §7.3).
func expandOne(body string, env *macroEnv, exp bool) (string, error) {
	if body == "" {
		return "", fmt.Errorf("%w: empty %%{}", ErrMacro)
	}
	letter := body[0]
	lower := letter | 0x20
	if !isAlpha(letter) || !strings.ContainsRune("slodiphcrtv", rune(lower)) {
		return "", fmt.Errorf("%w: unknown macro letter %q", ErrMacro, printable(string(letter)))
	}
	if !exp && strings.ContainsRune("crt", rune(lower)) {
		// §7.3: c, r and t are only allowed in "exp" text.
		return "", fmt.Errorf("%w: macro letter %c is allowed only in exp= text", ErrMacro, letter)
	}
	rest := body[1:]
	digits := 0
	haveDigits := false
	for rest != "" && isDigit(rest[0]) {
		haveDigits = true
		if digits < maxTransformerDigits {
			digits = digits*10 + int(rest[0]-'0')
		}
		rest = rest[1:]
	}
	if haveDigits && digits == 0 {
		// §7.3: "If a DIGIT is specified, the value MUST be nonzero."
		return "", fmt.Errorf("%w: zero DIGIT transformer", ErrMacro)
	}
	reverse := false
	if rest != "" && (rest[0] == 'r' || rest[0] == 'R') {
		reverse = true
		rest = rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		// delimiter = "." / "-" / "+" / "," / "/" / "_" / "="
		if !strings.ContainsRune(".-+,/_=", rune(rest[i])) {
			return "", fmt.Errorf("%w: invalid delimiter %q", ErrMacro, printable(rest[i:i+1]))
		}
	}
	if env == nil {
		return "", nil
	}
	var v string
	switch lower {
	case 's':
		v = env.sender
	case 'l':
		v = env.local
	case 'o':
		v = env.senderDomain
	case 'd':
		v = env.domain
	case 'i':
		v = dotIP(env.ip)
	case 'p':
		v = "unknown"
		if env.ptr != nil {
			v = env.ptr()
		}
	case 'h':
		v = env.helo
	case 'v':
		v = "ip6"
		if len(env.ip) == net.IPv4len {
			v = "in-addr"
		}
	case 'c':
		v = env.ip.String()
	case 'r':
		v = env.receiver
		if v == "" {
			v = "unknown"
		}
	case 't':
		v = strconv.FormatInt(env.now.Unix(), 10)
	}
	if haveDigits || reverse || rest != "" {
		v = transform(v, rest, digits, reverse)
	}
	if isUpper(letter) {
		// §7.3: uppercase letters mean the value is URL-escaped (RFC 3986
		// §2.3 unreserved characters are kept).
		v = urlEscape(v)
	}
	return v, nil
}

// transform splits v on the delimiters (default "."), optionally reverses
// the parts, keeps the rightmost digits parts (0 = all) and joins them with
// "." (RFC 7208 §7.3).
func transform(v, delims string, digits int, reverse bool) string {
	if delims == "" {
		delims = "."
	}
	parts := make([]string, 0, 8)
	start := 0
	for i := 0; i < len(v); i++ {
		if strings.IndexByte(delims, v[i]) >= 0 {
			parts = append(parts, v[start:i])
			start = i + 1
		}
	}
	parts = append(parts, v[start:])
	if reverse {
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
	}
	if digits > 0 && digits < len(parts) {
		parts = parts[len(parts)-digits:]
	}
	return strings.Join(parts, ".")
}

// dotIP renders %{i}: dotted quad for IPv4, 32 dot-separated lowercase
// nibbles for IPv6 (RFC 7208 §7.3, example in §7.4).
func dotIP(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	const hexd = "0123456789abcdef"
	b := make([]byte, 0, 63)
	for i, x := range ip.To16() {
		if i > 0 {
			b = append(b, '.')
		}
		b = append(b, hexd[x>>4], '.', hexd[x&0xf])
	}
	return string(b)
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// urlEscape escapes every octet outside RFC 3986 unreserved characters.
func urlEscape(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&0xf])
	}
	return b.String()
}
