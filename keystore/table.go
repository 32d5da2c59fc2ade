package keystore

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// OpenDKIM table files, as read by OpenDKIM's "file" and "refile" datasets
// (opendkim/opendkim-db.c, dkimf_db_open): one entry per line, the key up
// to the first blank, the value after it with surrounding blanks removed;
// '#' starts a comment anywhere on a line; blank lines are ignored. Keys
// and values are compared without regard to case, as OpenDKIM opens both
// tables with DKIMF_DB_FLAG_ICASE.

// maxTableSize bounds a table file; hosting setups have tens of thousands
// of lines, far below this.
const maxTableSize = 16 << 20

// tableLine is one entry of a table file.
type tableLine struct {
	line       int
	key, value string
}

// splitTable splits table text into entries. It never fails: what an entry
// means is for the caller to check.
func splitTable(data []byte) []tableLine {
	var out []tableLine
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		s := strings.TrimSpace(string(line))
		if s == "" {
			continue
		}
		key, value := s, ""
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			key, value = s[:i], strings.TrimSpace(s[i+1:])
		}
		out = append(out, tableLine{line: n, key: key, value: value})
	}
	return out
}

// readTable reads a table file, refusing what is not a regular file (a
// FIFO would block the daemon's start).
func readTable(file string) ([]byte, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, &Error{File: file, Msg: "cannot read: " + pathErrCause(err).Error(), Err: ErrTable}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{File: file, Msg: "not a regular file", Err: ErrTable}
	}
	if fi.Size() > maxTableSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxTableSize), Err: ErrTable}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Msg: "cannot read: " + pathErrCause(err).Error(), Err: ErrTable}
	}
	return data, nil
}

// signEntry is one SigningTable line.
type signEntry struct {
	pattern string // lower case
	keyName string // "%" means the key named like the From domain
	source  string // file:line
}

// refileSpecial are the characters OpenDKIM's dkimf_mkregexp passes to
// regcomp(3) unchanged, so they mean regular-expression syntax in a
// refile: table. authmilter matches refile patterns as globs with '*'
// only, and refuses these rather than give them another meaning.
const refileSpecial = `^$()[]{}|?\`

// parseSigningTable parses a SigningTable: "pattern keyname" per line.
//
// In a refile: table the pattern is a glob matched against the whole
// lower-cased author address, '*' matching any run of characters
// (dkimf_mkregexp turns '*' into ".*" and anchors with ^...$), and the
// lines are tried in file order. In a plain table the pattern is an exact
// key, looked up in OpenDKIM's order (see Set.Lookup), so a '*' other
// than in "*" or "user@*" can never match and is refused.
//
// OpenDKIM allows a second value, the signer identity for the i= tag
// ("keyname:signer"); authmilter does not write i= and refuses it rather
// than silently drop it.
func parseSigningTable(file string, data []byte, refile bool) ([]signEntry, []error) {
	var out []signEntry
	var errs []error
	seen := map[string]int{}
	for _, l := range splitTable(data) {
		src := source(file, l.line)
		bad := func(format string, args ...any) {
			errs = append(errs, &Error{File: file, Line: l.line, Msg: fmt.Sprintf(format, args...), Err: ErrTable})
		}
		pattern := strings.ToLower(l.key)
		switch {
		case l.value == "":
			bad("%q has no key name after it", l.key)
			continue
		case strings.ContainsAny(l.value, " \t:"):
			bad("%q: a second value (the signer identity, for i=) is not supported; write only the key name", l.key)
			continue
		}
		if l.value != "%" {
			if err := CheckKeyName(l.value); err != nil {
				bad("%v", err)
				continue
			}
		}
		if refile {
			if i := strings.IndexAny(pattern, refileSpecial); i >= 0 {
				bad("pattern %q uses %q, which OpenDKIM would read as regular-expression syntax; refile patterns may only use '*'", l.key, string(pattern[i]))
				continue
			}
		} else if strings.Contains(pattern, "*") && pattern != "*" &&
			!(strings.HasSuffix(pattern, "@*") && strings.Count(pattern, "*") == 1) {
			bad("%q contains '*', which only matches in a refile: table; use signing_table = \"refile:%s\", or write %q", l.key, file, strings.TrimPrefix(pattern, "*@"))
			continue
		}
		if first, ok := seen[pattern]; ok {
			bad("%q is already on line %d, which wins", l.key, first)
			continue
		}
		seen[pattern] = l.line
		out = append(out, signEntry{pattern: pattern, keyName: l.value, source: src})
	}
	return out, errs
}

// parseKeyTable parses a KeyTable: "keyname domain:selector:/path/to/key"
// per line (opendkim.conf(5), KeyTable). The domain may be "%", the From
// domain. OpenDKIM also accepts the key itself (PEM or base64 DER) as the
// third value, and paths relative to its working directory; both are
// refused: a key belongs in a file only authmilter can read, and a
// relative path would depend on the working directory. Messages never
// repeat the third value, which may be a key.
func parseKeyTable(file string, data []byte) ([]KeySpec, []error) {
	var out []KeySpec
	var errs []error
	seen := map[string]int{}
	for _, l := range splitTable(data) {
		bad := func(format string, args ...any) {
			errs = append(errs, &Error{File: file, Line: l.line, Msg: fmt.Sprintf(format, args...), Err: ErrTable})
		}
		if err := CheckKeyName(l.key); err != nil {
			bad("%v", err)
			continue
		}
		parts := strings.SplitN(l.value, ":", 3)
		if len(parts) != 3 {
			bad("key %q: expected domain:selector:/path/to/key after the key name", l.key)
			continue
		}
		domain, selector, keyPath := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
		if err := CheckDomain(domain); err != nil {
			bad("key %q: %v", l.key, err)
			continue
		}
		if err := CheckSelector(selector); err != nil {
			bad("key %q: %v", l.key, err)
			continue
		}
		switch {
		case strings.HasPrefix(keyPath, "./") || strings.HasPrefix(keyPath, "../"):
			bad("key %q: relative key path; write the absolute path", l.key)
			continue
		case !strings.HasPrefix(keyPath, "/"):
			bad("key %q: the third value is not an absolute path; keys written into the KeyTable are not supported: put the key in a file (chmod 600) and give its path", l.key)
			continue
		}
		if err := CheckKeyPath(keyPath); err != nil {
			bad("key %q: %v", l.key, err)
			continue
		}
		if first, ok := seen[l.key]; ok {
			bad("key %q is already defined on line %d", l.key, first)
			continue
		}
		seen[l.key] = l.line
		out = append(out, KeySpec{Name: l.key, Domain: domain, Selector: selector, Path: keyPath, Source: source(file, l.line)})
	}
	return out, errs
}
