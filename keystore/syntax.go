package keystore

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Syntax checks shared with the config package, so that `authmilter config
// check` and Build agree. Each error's text completes a message naming the
// value's place ("file:line: ...: <error>").

// CheckKeyName accepts a key name: 1 to 255 printable ASCII bytes without
// spaces, so names survive in OpenDKIM tables (whitespace-separated) and
// log lines.
func CheckKeyName(s string) error {
	switch {
	case s == "":
		return errors.New("key name must not be empty")
	case len(s) > 255:
		return fmt.Errorf("key name is %d bytes, longer than 255", len(s))
	case s == "%":
		return errors.New(`key name "%" is reserved: in a SigningTable it means the key named like the From domain`)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '#' {
			return fmt.Errorf("key name %q: only printable ASCII without spaces or '#' is allowed", s)
		}
	}
	return nil
}

// CheckDomain accepts a d= domain (RFC 6376 Section 3.5: domain-name, a
// sequence of RFC 5321 sub-domains: labels of letters, digits and '-', not
// starting or ending with '-'), or "%" for the From domain. Non-ASCII
// domains must be written as A-labels (xn--...).
func CheckDomain(s string) error {
	if s == "%" {
		return nil
	}
	if s == "" {
		return errors.New("domain must not be empty")
	}
	if len(s) > 253 {
		return fmt.Errorf("domain is %d bytes, longer than 253", len(s))
	}
	if err := checkLabels(s); err != nil {
		return fmt.Errorf("domain %q: %w", s, err)
	}
	return nil
}

// CheckSelector accepts an s= selector (RFC 6376 Section 3.1: selector =
// sub-domain *("." sub-domain)).
func CheckSelector(s string) error {
	if s == "" {
		return errors.New("selector must not be empty")
	}
	if len(s) > 200 {
		// Selector, "._domainkey." and the domain must fit in 253 bytes.
		return fmt.Errorf("selector is %d bytes, longer than 200", len(s))
	}
	if err := checkLabels(s); err != nil {
		return fmt.Errorf("selector %q: %w", s, err)
	}
	return nil
}

// checkLabels checks dot-separated RFC 5321 sub-domains (Let-dig
// [Ldh-str]).
func checkLabels(s string) error {
	for _, l := range strings.Split(s, ".") {
		switch {
		case l == "":
			return errors.New("empty label")
		case len(l) > 63:
			return errors.New("label longer than 63 bytes")
		case l[0] == '-' || l[len(l)-1] == '-':
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			case c >= 0x80:
				return errors.New("write non-ASCII names as A-labels (xn--...)")
			default:
				return fmt.Errorf("%q is not allowed; use letters, digits, '-' and '.'", string(rune(c)))
			}
		}
	}
	return nil
}

// CheckKeyPath accepts an absolute path to a key file. Relative paths are
// refused because they would depend on the daemon's working directory.
func CheckKeyPath(p string) error {
	switch {
	case p == "":
		return errors.New("path must not be empty")
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("path contains a NUL byte")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is not absolute", p)
	case strings.HasSuffix(p, "/"):
		return fmt.Errorf("path %q names a directory", p)
	}
	return nil
}

// CheckPattern accepts a [[signing.rule]] from pattern: a path.Match
// pattern matched against the lower-cased author address. '*' matches any
// run of characters except '/', '?' one character, [a-z] a class, and '\'
// escapes the next character ("\*" is a literal '*'). The pattern must be
// "*" (every address) or contain an '@', because a bare domain would never
// match an address.
func CheckPattern(p string) error {
	switch {
	case p == "":
		return errors.New("pattern must not be empty")
	case len(p) > 512:
		return fmt.Errorf("pattern is %d bytes, longer than 512", len(p))
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("pattern %q is malformed (unclosed '[' or trailing '\\')", p)
	}
	if p != "*" && !strings.Contains(p, "@") {
		return fmt.Errorf("pattern %q has no '@' and would never match an address; write %q", p, "*@"+p)
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("pattern %q contains a control character", p)
		}
	}
	return nil
}

// CheckTablePath accepts the value of signing_table or key_table: "" (none),
// an absolute path, or "file:" or "refile:" followed by one (OpenDKIM's
// dataset syntax, opendkim(8)). Other OpenDKIM dataset types (db:, dsn:,
// ldap:, lua:, csl:) are refused: authmilter reads only flat files.
func CheckTablePath(v string) error {
	_, _, err := splitTablePath(v)
	return err
}

// splitTablePath returns the file of a table value and whether it is a
// refile: (pattern) table.
func splitTablePath(v string) (file string, refile bool, err error) {
	if v == "" {
		return "", false, nil
	}
	file = v
	switch {
	case strings.HasPrefix(v, "refile:"):
		file, refile = strings.TrimPrefix(v, "refile:"), true
	case strings.HasPrefix(v, "file:"):
		file = strings.TrimPrefix(v, "file:")
	default:
		if i := strings.IndexByte(v, ':'); i > 0 && !strings.Contains(v[:i], "/") {
			return "", false, fmt.Errorf("%q: OpenDKIM %q datasets are not supported; convert the table to a flat file and give its path (or \"refile:PATH\")", v, v[:i+1])
		}
	}
	if err := CheckKeyPath(file); err != nil {
		return "", false, fmt.Errorf("%q: %w", v, err)
	}
	return file, refile, nil
}
