package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/authmilter/authmilter/keystore"
)

// Value syntax checks. Each returns an error whose text completes the
// message "file:line: key: ...", so it says what is wrong and, where a
// common mistake is recognisable, what to write instead.

// checkListen validates a listen address; see Config.Listen.
func checkListen(s string) error {
	_, _, err := parseListen(s)
	return err
}

// checkMetricsListen validates [metrics] listen; see MetricsConfig.Listen.
// "" disables the listener. The host must be written out: ":9891" would
// listen on every address, which an administrator should choose
// explicitly ("0.0.0.0:9891"), not get by leaving the host out.
func checkMetricsListen(s string) error {
	if s == "" {
		return nil
	}
	if strings.Contains(s, "://") || strings.HasPrefix(s, "inet:") || strings.HasPrefix(s, "unix:") {
		return fmt.Errorf("%q: write HOST:PORT, e.g. \"127.0.0.1:9891\"", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (IPv6 as [ADDRESS]:PORT), e.g. \"127.0.0.1:9891\"", s)
	}
	if host == "" {
		return fmt.Errorf("%q has no host; write 127.0.0.1:%s (or 0.0.0.0:%s to listen on every address)", s, port, port)
	}
	if a, err := netip.ParseAddr(host); err != nil && host != "localhost" {
		return fmt.Errorf("%q: %q is not an IP address or \"localhost\"", s, host)
	} else if err == nil && a.Zone() != "" {
		return fmt.Errorf("%q: zoned IPv6 addresses are not supported", s)
	} else if err == nil && a.Is6() && !strings.HasPrefix(s, "[") {
		return fmt.Errorf("%q: write IPv6 addresses as [ADDRESS]:PORT", s)
	} else if err == nil && a.Is4() && strings.HasPrefix(s, "[") {
		return fmt.Errorf("%q: %q is not an IPv6 address; write IPv4 without brackets", s, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		return fmt.Errorf("%q: port %q is not a number from 1 to 65535", s, port)
	}
	return nil
}

// parseListen parses Postfix's milter socket syntax, "inet:HOST:PORT" or
// "unix:PATH" (http://www.postfix.org/MILTER_README.html), plus
// Sendmail's "local:PATH", and returns net.Listen arguments.
func parseListen(s string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		if strings.HasPrefix(s, "/") {
			return "", "", fmt.Errorf("%q has no socket type; write \"unix:%s\"", s, s)
		}
		return "", "", fmt.Errorf("%q is not inet:HOST:PORT or unix:/PATH", s)
	}
	switch scheme {
	case "unix", "local":
		if err := checkSocketPath(rest); err != nil {
			return "", "", err
		}
		return "unix", rest, nil
	case "inet":
		host, port, err := splitInet(rest)
		if err != nil {
			return "", "", err
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case "inet6":
		return "", "", fmt.Errorf("%q: write IPv6 addresses as inet:[ADDRESS]:PORT", s)
	default:
		if _, err := strconv.Atoi(scheme); err == nil || isIPv4Prefix(scheme) || strings.HasPrefix(scheme, "[") {
			// "127.0.0.1:8891" or "8891": an address without the inet: prefix.
			return "", "", fmt.Errorf("%q has no socket type; write \"inet:%s\"", s, s)
		}
		return "", "", fmt.Errorf("unknown socket type %q in %q; use inet:HOST:PORT or unix:/PATH", scheme, s)
	}
}

// isIPv4Prefix reports whether s looks like the start of a dotted-quad.
func isIPv4Prefix(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// splitInet splits the HOST:PORT of an inet: address.
func splitInet(rest string) (host, port string, err error) {
	if strings.Contains(rest, "@") {
		// Sendmail and OpenDKIM write inet:PORT@HOST.
		p, h, _ := strings.Cut(rest, "@")
		return "", "", fmt.Errorf("\"inet:%s\" is Sendmail's PORT@HOST order; write \"inet:%s:%s\"", rest, bracketIfV6(h), p)
	}
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", fmt.Errorf("\"inet:%s\": missing ']' after the IPv6 address", rest)
		}
		host = rest[1:end]
		a, perr := netip.ParseAddr(host)
		if perr != nil || !a.Is6() {
			return "", "", fmt.Errorf("\"inet:%s\": %q is not an IPv6 address", rest, host)
		}
		after := rest[end+1:]
		if !strings.HasPrefix(after, ":") {
			return "", "", fmt.Errorf("\"inet:%s\": missing :PORT after [%s]", rest, host)
		}
		port = after[1:]
	} else {
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return "", "", fmt.Errorf("\"inet:%s\": missing :PORT; write inet:HOST:PORT", rest)
		}
		host, port = rest[:i], rest[i+1:]
		if strings.Contains(host, ":") {
			return "", "", fmt.Errorf("\"inet:%s\": put IPv6 addresses in brackets, as in inet:[::1]:8891", rest)
		}
		if host == "" {
			// Listening on every address exposes an unauthenticated
			// protocol; make that an explicit choice.
			return "", "", fmt.Errorf("\"inet:%s\": missing host; use 127.0.0.1, or 0.0.0.0 or [::] to listen on all addresses", rest)
		}
		if allNumericLabels(host) {
			if a, perr := netip.ParseAddr(host); perr != nil || !a.Is4() {
				return "", "", fmt.Errorf("\"inet:%s\": %q is not an IPv4 address", rest, host)
			}
		} else if err := checkHostName(host); err != nil {
			return "", "", fmt.Errorf("\"inet:%s\": host %w", rest, err)
		}
	}
	if err := checkPort(port); err != nil {
		return "", "", fmt.Errorf("\"inet:%s\": %w", rest, err)
	}
	return host, port, nil
}

func bracketIfV6(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// allNumericLabels reports whether every dot-separated part of s is
// digits, as in an IPv4 address; such a string is never taken as a name.
func allNumericLabels(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return false
		}
		for i := 0; i < len(l); i++ {
			if l[i] < '0' || l[i] > '9' {
				return false
			}
		}
	}
	return true
}

// checkPort accepts a decimal port 1..65535. Port 0 (a random port) is
// refused: the MTA has to be told the port.
func checkPort(p string) error {
	if p == "" {
		return errors.New("missing port")
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return fmt.Errorf("port %q is not a number", p)
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %s is out of range 1..65535", p)
	}
	return nil
}

// maxSocketPath is the longest Unix socket path the kernel accepts:
// sockaddr_un.sun_path is 108 bytes on Linux and 104 on the BSDs and macOS,
// including the terminating NUL. Checked here because net.Listen reports a
// long path only as "invalid argument".
func maxSocketPath() int {
	if runtime.GOOS == "linux" {
		return 107
	}
	return 103
}

// checkSocketPath accepts an absolute path short enough for a socket.
func checkSocketPath(p string) error {
	switch {
	case p == "":
		return errors.New("missing socket path after unix:")
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("socket path contains a NUL byte")
	case !strings.HasPrefix(p, "/"):
		// A relative path would depend on the daemon's working directory.
		return fmt.Errorf("socket path %q is not absolute", p)
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("socket path %q names a directory", p)
	case len(p) > maxSocketPath():
		return fmt.Errorf("socket path is %d bytes, longer than the %d the system allows", len(p), maxSocketPath())
	}
	return nil
}

// parseSocketMode parses "0660", "660" or "0o660". Only permission bits
// are allowed: setuid, setgid and sticky mean nothing on a socket.
func parseSocketMode(s string) (uint32, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if len(digits) == 0 || len(digits) > 4 {
		return 0, fmt.Errorf("%q is not an octal mode such as \"0660\"", s)
	}
	n, err := strconv.ParseUint(digits, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal mode such as \"0660\"", s)
	}
	if n > 0o777 {
		return 0, fmt.Errorf("%q has bits beyond the permissions 0777", s)
	}
	return uint32(n), nil
}

// checkAuthservID validates an authserv-id. RFC 8601 Section 2.2 allows a
// token or quoted-string and recommends a domain name (Section 2.5); this
// accepts host names only, so the value can be written unquoted and compared
// with those in incoming headers without unescaping. Non-ASCII names must be
// written as A-labels (xn--...).
func checkAuthservID(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return checkHostName(s)
}

// checkHostName accepts a DNS host name: labels of 1 to 63 ASCII letters,
// digits, '-' or '_', separated by dots, 253 bytes at most, and no label
// starting or ending with '-'.
func checkHostName(s string) error {
	if len(s) > 253 {
		return fmt.Errorf("is %d bytes, longer than the 253 a host name may have", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			return fmt.Errorf("%q is not a host name: it contains a space", s)
		case c == '\r' || c == '\n':
			return fmt.Errorf("%q is not a host name: it contains a line break", s)
		case c == ';':
			return fmt.Errorf("%q is not a host name: it contains ';'", s)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%q is not a host name: it contains a control character", s)
		case c >= 0x80:
			return fmt.Errorf("%q is not a host name: write non-ASCII names as A-labels (xn--...)", s)
		case c == '.' || c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		default:
			return fmt.Errorf("%q is not a host name: %q is not allowed", s, string(c))
		}
	}
	for _, l := range strings.Split(s, ".") {
		switch {
		case l == "":
			return fmt.Errorf("%q is not a host name: empty label", s)
		case len(l) > 63:
			return fmt.Errorf("%q is not a host name: label longer than 63 bytes", s)
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("%q is not a host name: label %q starts or ends with '-'", s, l)
		}
	}
	return nil
}

// parseNameserver parses HOST, HOST:PORT or [IPv6]:PORT, where HOST is an
// IP address (a name would need DNS to find the DNS server), and returns
// HOST:PORT with the port defaulting to 53. A bare IPv6 address is taken
// whole, so "::1:53" is the address ::1:53 on port 53; use "[::1]:53".
func parseNameserver(s string) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return net.JoinHostPort(a.String(), "53"), nil
	}
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", fmt.Errorf("%q: missing ']'", s)
		}
		host = s[1:end]
		switch after := s[end+1:]; {
		case after == "":
			port = "53"
		case strings.HasPrefix(after, ":"):
			port = after[1:]
		default:
			return "", fmt.Errorf("%q: expected :PORT after ']'", s)
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return "", fmt.Errorf("%q: %q is not an IPv6 address", s, host)
		}
	} else {
		var ok bool
		host, port, ok = strings.Cut(s, ":")
		if !ok {
			return "", fmt.Errorf("%q is not an IP address; nameservers must be given by address", s)
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is4() {
			return "", fmt.Errorf("%q: %q is not an IP address; nameservers must be given by address", s, host)
		}
	}
	if err := checkPort(port); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	a := netip.MustParseAddr(host)
	return net.JoinHostPort(a.String(), port), nil
}

// parsePrefix parses an IP address or CIDR prefix for the network lists
// (Config.InternalNetworks, DMARCConfig.TrustedForwarders and
// TrustedRelays). A bare address is a host prefix, /32 or /128. Refused,
// because each is more likely a mistake than a wish:
//   - host bits after the prefix length ("192.0.2.1/24"): the hint gives
//     the network, which is what netip.Prefix.Contains would use;
//   - zones ("fe80::1%eth0"): the MTA reports client addresses without
//     one, so the prefix would never match;
//   - IPv4-mapped IPv6 ("::ffff:192.0.2.0/120"): client addresses are
//     compared unmapped, so the prefix would never match; the hint gives
//     the IPv4 form;
//   - length 0 ("0.0.0.0/0", "::/0"): every client of that family would
//     be internal, trusted or a forwarder.
func parsePrefix(s string) (netip.Prefix, error) {
	addr, bitsText, hasBits := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR prefix such as \"192.0.2.0/24\" or \"2001:db8::/32\"", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zones (%%%s) are not allowed; client addresses have none", s, a.Zone())
	}
	bits := a.BitLen()
	if hasBits {
		n, err := strconv.Atoi(bitsText)
		if err != nil || bitsText == "" || bitsText[0] < '0' || bitsText[0] > '9' {
			return netip.Prefix{}, fmt.Errorf("%q: prefix length %q is not a number", s, bitsText)
		}
		if n < 0 || n > a.BitLen() {
			return netip.Prefix{}, fmt.Errorf("%q: prefix length %d is out of range 1..%d", s, n, a.BitLen())
		}
		bits = n
	}
	p := netip.PrefixFrom(a, bits)
	if a.Is4In6() && bits >= 96 {
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 address, which never matches a client; write %q",
			s, netip.PrefixFrom(a.Unmap(), bits-96).String())
	}
	if bits == 0 {
		return netip.Prefix{}, fmt.Errorf("%q covers every %s address; list your networks instead", s, family(a))
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set; did you mean %q?", s, m.String())
	}
	return p, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// maxReplyText bounds DMARCConfig.RejectText. With "550 5.7.1 " and CRLF
// the reply line stays far below SMTP's 512 octets (RFC 5321 Section
// 4.5.3.1.5) and Sendmail's 980-byte milter reply limit.
const maxReplyText = 200

// checkReplyText validates the text of an SMTP reply sent through the
// milter protocol: printable ASCII (RFC 5321 Section 4.2: textstring),
// no line breaks (a reply is one line here), and no '%', which
// libmilter-based MTAs read as a format character (smfi_setreply).
func checkReplyText(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > maxReplyText:
		return fmt.Errorf("is %d bytes, longer than %d", len(s), maxReplyText)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n':
			return fmt.Errorf("%q contains a line break", s)
		case c == '%':
			return fmt.Errorf("%q contains '%%', which the MTA reads as a format character in milter replies", s)
		case c >= 0x80:
			return fmt.Errorf("%q contains non-ASCII text; only printable ASCII is allowed", s)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%q contains the control character %q; only printable ASCII is allowed", s, string(rune(c)))
		}
	}
	return nil
}

// maxFieldName keeps a header field name, its colon and a space within
// the 78-character line RFC 5322 Section 2.1.1 recommends.
const maxFieldName = 76

// checkFieldName validates a header field name: RFC 5322 Section 3.6.8,
// field-name = 1*ftext, ftext = printable ASCII except ':'.
func checkFieldName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > maxFieldName:
		return fmt.Errorf("is %d bytes, longer than %d", len(s), maxFieldName)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ':':
			return fmt.Errorf("%q is not a header field name: it contains ':'; write the name only", s)
		case c == ' ' || c == '\t':
			return fmt.Errorf("%q is not a header field name: it contains a space", s)
		case c >= 0x80:
			return fmt.Errorf("%q is not a header field name: it contains non-ASCII text", s)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%q is not a header field name: it contains the control character %q", s, string(rune(c)))
		}
	}
	return nil
}

// checkSuffixListPath accepts "" (the built-in list) or an absolute path
// to a regular file that can be opened now, so that a wrong path is found
// by `authmilter config check` and at start, not at the first message.
// Relative paths are refused because they would depend on the daemon's
// working directory. The file's content is checked by its loader.
func checkSuffixListPath(p string) error {
	switch {
	case p == "":
		return nil
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("path contains a NUL byte")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is not absolute", p)
	}
	// Stat before opening: opening a FIFO would block.
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", p, pathErrCause(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%q is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", p, pathErrCause(err))
	}
	f.Close()
	return nil
}

// pathErrCause strips the operation and path from an *fs.PathError, which
// the message already names.
func pathErrCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseKeyName checks a key name in a [[signing.rule]]'s keys.
func parseKeyName(s string) (string, error) {
	return s, keystore.CheckKeyName(s)
}

// parseFieldName checks a header field name in signing.headers and
// signing.oversign.
func parseFieldName(s string) (string, error) {
	return s, checkFieldName(s)
}

// parseDaemonName checks a {daemon_name} value: Postfix and Sendmail
// daemon names are words, so printable ASCII without spaces.
func parseDaemonName(s string) (string, error) {
	if s == "" {
		return "", errors.New("must not be empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("%q: only printable ASCII without spaces is allowed", s)
		}
	}
	return s, nil
}

// checkCanonicalization accepts "header/body" with each "simple" or
// "relaxed" (RFC 6376 Section 3.4). A single word is refused: in c= it
// would mean "word/simple" (Section 3.5), in OpenDKIM's Canonicalization
// "word/word", and the difference matters.
func checkCanonicalization(s string) error {
	h, b, ok := strings.Cut(s, "/")
	valid := func(x string) bool { return x == "simple" || x == "relaxed" }
	switch {
	case !ok && valid(s):
		return fmt.Errorf("%q is ambiguous: write \"%s/%s\" or \"%s/simple\"", s, s, s, s)
	case !ok || !valid(h) || !valid(b):
		return fmt.Errorf("%q is not header/body with each \"simple\" or \"relaxed\", such as \"relaxed/relaxed\"", s)
	}
	return nil
}
