package keystore

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Error is one problem found by Build, with the file and line of the
// [[signing.key]], [[signing.rule]] or table line it is about.
type Error struct {
	File string // configuration or table file; "" if unknown
	Line int    // 1-based; 0 if the error concerns the whole file
	Msg  string // what is wrong, never containing key material
	Err  error  // one of the package's sentinels
}

// Error returns "file:line: msg", "file: msg" or "msg".
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.Msg
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// source formats a file:line Source.
func source(file string, line int) string {
	return file + ":" + strconv.Itoa(line)
}

// splitSource splits a "file:line" Source; a Source without a numeric
// line suffix is a file name.
func splitSource(src string) (string, int) {
	if i := strings.LastIndexByte(src, ':'); i >= 0 {
		if n, err := strconv.Atoi(src[i+1:]); err == nil && n > 0 {
			return src[:i], n
		}
	}
	return src, 0
}

// errorAt makes an *Error located at a Source.
func errorAt(src string, kind error, format string, args ...any) *Error {
	file, line := splitSource(src)
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// detail is an error's text without its sentinel prefix, for errors that
// get a location and subject of their own.
func detail(err error) string {
	s := err.Error()
	for _, kind := range []error{ErrKeyFile, ErrKeyMode, ErrKeyFormat, ErrKeySize} {
		if errors.Is(err, kind) {
			return strings.TrimPrefix(s, kind.Error()+": ")
		}
	}
	return s
}

// KeySpec defines a key: a [[signing.key]] table or a KeyTable line.
type KeySpec struct {
	Name, Domain, Selector, Path string
	Source                       string // "file:line", for messages
}

// Rule says which keys sign mail from matching authors: a
// [[signing.rule]] table. Pattern is a glob (see CheckPattern); Keys name
// keys of the Spec or the KeyTable, each of which signs.
type Rule struct {
	Pattern string
	Keys    []string
	Source  string // "file:line", for messages
}

// Spec is everything Build needs: the keys and rules of the configuration
// file, and optionally OpenDKIM tables (see CheckTablePath for their
// syntax).
type Spec struct {
	Keys               []KeySpec
	Rules              []Rule
	SigningTable       string
	KeyTable           string
	AllowGroupReadable bool
}

// Set is a loaded key set: the keys and the rules choosing them. It is
// immutable after Build and safe for concurrent use.
type Set struct {
	keys   []*Key
	byName map[string]*Key
	rules  []Rule      // [[signing.rule]], in file order; patterns lower case
	refile []signEntry // refile: SigningTable, in file order
	plain  map[string]signEntry
}

// Build checks spec, loads every key (from the Spec and the KeyTable) and
// parses the SigningTable. It reports every problem, each located at the
// file:line of the key, rule or table line it is about, and returns a nil
// Set if there was any. Keys of the Spec and of the KeyTable share one
// namespace, so a name may be defined only once.
func Build(spec Spec) (*Set, []error) {
	s := &Set{byName: map[string]*Key{}, plain: map[string]signEntry{}}
	var errs []error
	defined := map[string]string{} // key name -> Source

	specs := spec.Keys
	for _, ks := range specs {
		if err := checkKeySpec(ks); err != nil {
			errs = append(errs, err)
		}
	}
	var signing []signEntry
	signingRefile := false
	if spec.KeyTable != "" {
		file, _, err := splitTablePath(spec.KeyTable)
		if err != nil {
			errs = append(errs, &Error{Msg: "key_table " + err.Error(), Err: ErrTable})
		} else if data, err := readTable(file); err != nil {
			errs = append(errs, err)
		} else {
			kt, terrs := parseKeyTable(file, data)
			errs = append(errs, terrs...)
			specs = append(specs[:len(specs):len(specs)], kt...)
		}
	}
	if spec.SigningTable != "" {
		file, refile, err := splitTablePath(spec.SigningTable)
		if err != nil {
			errs = append(errs, &Error{Msg: "signing_table " + err.Error(), Err: ErrTable})
		} else if data, err := readTable(file); err != nil {
			errs = append(errs, err)
		} else {
			st, terrs := parseSigningTable(file, data, refile)
			errs = append(errs, terrs...)
			signing, signingRefile = st, refile
		}
	}

	for i, ks := range specs {
		if first, ok := defined[ks.Name]; ok {
			errs = append(errs, errorAt(ks.Source, ErrKeySpec, "signing key %q is already defined at %s", ks.Name, first))
			continue
		}
		// Defined even if invalid, so rules naming it do not add
		// errors of their own.
		defined[ks.Name] = ks.Source
		if i < len(spec.Keys) && checkKeySpec(ks) != nil {
			continue // reported above
		}
		signer, err := LoadKey(ks.Path, spec.AllowGroupReadable)
		if err != nil {
			errs = append(errs, errorAt(ks.Source, unwrapKind(err), "signing key %q: %s", ks.Name, detail(err)))
			continue
		}
		alg, bits := describeSigner(signer)
		domain := ks.Domain
		if domain != "%" {
			domain = strings.ToLower(domain)
		}
		k := &Key{Name: ks.Name, Domain: domain, Selector: ks.Selector, Path: ks.Path, Signer: signer, Algorithm: alg, Bits: bits}
		s.keys = append(s.keys, k)
		s.byName[k.Name] = k
	}

	for _, r := range spec.Rules {
		if err := CheckPattern(r.Pattern); err != nil {
			errs = append(errs, errorAt(r.Source, ErrRule, "signing rule: %v", err))
			continue
		}
		if len(r.Keys) == 0 {
			errs = append(errs, errorAt(r.Source, ErrRule, "signing rule %q names no keys", r.Pattern))
			continue
		}
		ok := true
		seen := map[string]bool{}
		for _, name := range r.Keys {
			switch {
			case seen[name]:
				errs = append(errs, errorAt(r.Source, ErrRule, "signing rule %q names key %q twice", r.Pattern, name))
				ok = false
			case defined[name] == "":
				errs = append(errs, errorAt(r.Source, ErrRule, "signing rule %q: no signing key is named %q", r.Pattern, name))
				ok = false
			}
			seen[name] = true
		}
		if ok {
			s.rules = append(s.rules, Rule{Pattern: strings.ToLower(r.Pattern), Keys: append([]string(nil), r.Keys...), Source: r.Source})
		}
	}

	for _, e := range signing {
		if e.keyName != "%" && defined[e.keyName] == "" {
			errs = append(errs, errorAt(e.source, ErrTable, "%q: no signing key is named %q (in the KeyTable or a [[signing.key]])", e.pattern, e.keyName))
			continue
		}
		if signingRefile {
			s.refile = append(s.refile, e)
		} else {
			s.plain[e.pattern] = e
		}
	}
	if len(errs) > 0 {
		// Configuration file first, then the KeyTable, then the
		// SigningTable.
		var files []string
		for _, k := range spec.Keys {
			f, _ := splitSource(k.Source)
			files = append(files, f)
		}
		for _, r := range spec.Rules {
			f, _ := splitSource(r.Source)
			files = append(files, f)
		}
		for _, t := range []string{spec.KeyTable, spec.SigningTable} {
			if f, _, err := splitTablePath(t); err == nil && f != "" {
				files = append(files, f)
			}
		}
		sortErrors(errs, files)
		return nil, errs
	}
	return s, nil
}

// sortErrors orders errors by file, in the order of files, then of first
// appearance, then by line; errors without a file come last.
func sortErrors(errs []error, files []string) {
	rank := map[string]int{}
	for _, f := range files {
		if _, ok := rank[f]; !ok {
			rank[f] = len(rank)
		}
	}
	loc := func(err error) (string, int) {
		var e *Error
		if errors.As(err, &e) {
			return e.File, e.Line
		}
		return "", 0
	}
	for _, err := range errs {
		if f, _ := loc(err); f != "" {
			if _, ok := rank[f]; !ok {
				rank[f] = len(rank)
			}
		}
	}
	sort.SliceStable(errs, func(i, j int) bool {
		fi, li := loc(errs[i])
		fj, lj := loc(errs[j])
		if (fi == "") != (fj == "") {
			return fj == ""
		}
		if fi != fj {
			return rank[fi] < rank[fj]
		}
		return li < lj
	})
}

// checkKeySpec checks the syntax of a key definition.
func checkKeySpec(ks KeySpec) error {
	name := ks.Name
	if err := CheckKeyName(name); err != nil {
		return errorAt(ks.Source, ErrKeySpec, "signing key: %v", err)
	}
	for _, err := range []error{CheckDomain(ks.Domain), CheckSelector(ks.Selector), CheckKeyPath(ks.Path)} {
		if err != nil {
			return errorAt(ks.Source, ErrKeySpec, "signing key %q: %v", name, err)
		}
	}
	return nil
}

// unwrapKind returns the sentinel LoadKey's error wraps.
func unwrapKind(err error) error {
	for _, kind := range []error{ErrKeyMode, ErrKeySize, ErrKeyFormat, ErrKeyFile} {
		if errors.Is(err, kind) {
			return kind
		}
	}
	return ErrKeyFile
}

// Lookup returns the keys to sign a message from the author address from
// (local-part@domain), and the Source ("file:line") of the rule or table
// line that chose them; nil and "" when nothing matches. Keys whose
// Domain is "%" come back with the From domain (lower case) in its place;
// the keys returned are copies, so callers may change them. A non-empty
// rule with no keys means a SigningTable line with key name "%" matched
// but no key is named like the From domain.
//
// The address is lower-cased, then matched in this order, first match
// winning:
//  1. the [[signing.rule]] tables, in file order (path.Match globs);
//  2. a refile: SigningTable, line by line ('*' globs);
//  3. a plain SigningTable, in OpenDKIM's order (dkimf_apply_signtable in
//     opendkim.c): "user@host.example.com", "host.example.com", then for
//     each parent "user@.example.com", ".example.com", "user@.com",
//     ".com", then "user@*", and finally "*".
//
// The configuration file comes first so that a rule added there overrides
// a migrated table without editing it.
func (s *Set) Lookup(from string) (keys []*Key, rule string) {
	if s == nil {
		return nil, ""
	}
	addr := strings.ToLower(from)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || at == len(addr)-1 {
		return nil, ""
	}
	user, domain := addr[:at], addr[at+1:]
	for _, r := range s.rules {
		if ok, _ := matchRule(r.Pattern, addr); ok {
			return s.resolve(r.Keys, domain), r.Source
		}
	}
	for _, e := range s.refile {
		if starMatch(e.pattern, addr) {
			return s.resolve([]string{e.keyName}, domain), e.source
		}
	}
	if len(s.plain) > 0 {
		for _, k := range plainCandidates(user, domain) {
			if e, ok := s.plain[k]; ok {
				return s.resolve([]string{e.keyName}, domain), e.source
			}
		}
	}
	return nil, ""
}

// plainCandidates lists the keys a plain SigningTable is searched for, in
// OpenDKIM's order (dkimf_apply_signtable, opendkim.c): the address, the
// domain, then "user@.parent" and ".parent" for each parent domain from
// the nearest, then "user@*" and "*". (opendkim.conf(5) describes all
// "user@.domain" forms before the ".domain" forms; the code interleaves
// them, and the code is what OpenDKIM users' tables were tested with.)
func plainCandidates(user, domain string) []string {
	out := []string{user + "@" + domain, domain}
	for i := strings.IndexByte(domain, '.'); i >= 0; {
		p := domain[i:]
		out = append(out, user+"@"+p, p)
		j := strings.IndexByte(domain[i+1:], '.')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return append(out, user+"@*", "*")
}

// matchRule matches a [[signing.rule]] pattern (lower-cased by Build)
// against a lower-cased address with path.Match: '*' matches any run of
// characters except '/', '?' one character, '[...]' a class, '\' escapes.
// Build has checked the pattern, so the error is always nil there.
func matchRule(pattern, addr string) (bool, error) {
	return path.Match(pattern, addr)
}

// starMatch matches a refile pattern: '*' matches any run of characters
// (OpenDKIM's dkimf_mkregexp turns it into ".*"), everything else matches
// itself, and the whole address must match (^...$).
func starMatch(pattern, s string) bool {
	// Iterative glob with backtracking to the last '*': linear in
	// practice, never exponential.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// resolve returns copies of the named keys, with "%" (key name or domain)
// replaced by the From domain. Unknown names (only possible through a "%"
// key name) are skipped.
func (s *Set) resolve(names []string, domain string) []*Key {
	out := make([]*Key, 0, len(names))
	for _, name := range names {
		if name == "%" {
			name = domain
		}
		k, ok := s.byName[name]
		if !ok {
			continue
		}
		c := *k
		if c.Domain == "%" {
			c.Domain = domain
		}
		out = append(out, &c)
	}
	return out
}

// Keys returns copies of every key, [[signing.key]] first, then the
// KeyTable's, each in file order; "%" domains are left as they are. For
// `authmilter testkey`, which checks the DNS record of each.
func (s *Set) Keys() []*Key {
	if s == nil {
		return nil
	}
	out := make([]*Key, len(s.keys))
	for i, k := range s.keys {
		c := *k
		out[i] = &c
	}
	return out
}
