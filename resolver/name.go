package resolver

import (
	"fmt"
	"strings"
)

// PresentationName turns a raw domain name (labels of arbitrary octets
// separated by dots) into the escaped presentation form that miekg/dns
// reads and writes (RFC 1035 §5.1): the characters it treats as special
// get a backslash, and octets outside printable ASCII become \DDD. It
// escapes exactly as miekg/dns does when it unpacks a name, so that names
// in responses compare equal to names in queries.
//
// DNS labels may hold any octet (RFC 2181 §11): SPF macro expansion can
// produce names with spaces or percent signs (RFC 7208 §7), and such a
// name must be asked for, not refused.
func PresentationName(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '.':
			b.WriteByte('.')
		case c == ' ' || c == '\'' || c == '@' || c == ';' || c == '(' || c == ')' || c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// RawName undoes PresentationName: \X becomes X and \DDD the octet DDD.
func RawName(p string) string {
	if strings.IndexByte(p, '\\') < 0 {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '\\' || i+1 >= len(p) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(p) && isDigit(p[i+1]) && isDigit(p[i+2]) && isDigit(p[i+3]) {
			n := int(p[i+1]-'0')*100 + int(p[i+2]-'0')*10 + int(p[i+3]-'0')
			if n <= 255 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i+1])
		i++
	}
	return b.String()
}
