package keystore

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fixture is a directory with three keys and OpenDKIM tables.
type fixture struct {
	dir                string
	rsa, ed, weak, bad string // key paths
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	testKeys(t)
	dir := t.TempDir()
	return fixture{
		dir:  dir,
		rsa:  writeFile(t, dir, "rsa.pem", pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048)), 0o600),
		ed:   writeFile(t, dir, "ed.pem", pemBytes("PRIVATE KEY", pkcs8(t, edKey)), 0o600),
		weak: writeFile(t, dir, "weak.pem", pemBytes("PRIVATE KEY", pkcs8(t, rsa1024)), 0o600),
		bad:  writeFile(t, dir, "open.pem", pemBytes("PRIVATE KEY", pkcs8(t, edKey)), 0o644),
	}
}

func (f fixture) table(t *testing.T, name, text string) string {
	t.Helper()
	return writeFile(t, f.dir, name, []byte(text), 0o644)
}

func names(keys []*Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Name+"/"+k.Domain+"/"+k.Selector)
	}
	return out
}

func errStrings(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestBuildAndLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kt := f.table(t, "KeyTable", fmt.Sprintf(`# OpenDKIM KeyTable
mail._domainkey.example.net   example.net:mail:%s
hosted                        %%:hosted:%s   # one key for every hosted domain
example.org                   example.org:s2024:%s
`, f.rsa, f.ed, f.weak))
	st := f.table(t, "SigningTable", `
*@example.net          mail._domainkey.example.net
*@sub.example.net      toml-ed
bob@*                  hosted
*@*.example.org        %
*@example.org          %
*                      hosted
`)
	spec := Spec{
		Keys: []KeySpec{
			{Name: "toml-rsa", Domain: "Example.COM", Selector: "sel1", Path: f.rsa, Source: "a.toml:3"},
			{Name: "toml-ed", Domain: "example.com", Selector: "ed1", Path: f.ed, Source: "a.toml:8"},
		},
		Rules: []Rule{
			{Pattern: "*@Example.com", Keys: []string{"toml-rsa", "toml-ed"}, Source: "a.toml:13"},
			{Pattern: "alice@example.net", Keys: []string{"toml-ed"}, Source: "a.toml:17"},
			{Pattern: "*@*.example.com", Keys: []string{"hosted"}, Source: "a.toml:20"},
		},
		SigningTable: "refile:" + st,
		KeyTable:     kt,
	}
	set, errs := Build(spec)
	if len(errs) > 0 {
		t.Fatalf("Build: %q", errStrings(errs))
	}
	tests := []struct {
		from string
		keys []string
		rule string
	}{
		{"user@example.com", []string{"toml-rsa/example.com/sel1", "toml-ed/example.com/ed1"}, "a.toml:13"},
		{"USER@EXAMPLE.COM", []string{"toml-rsa/example.com/sel1", "toml-ed/example.com/ed1"}, "a.toml:13"},
		{"alice@example.net", []string{"toml-ed/example.com/ed1"}, "a.toml:17"},
		{"x@a.b.example.com", []string{"hosted/a.b.example.com/hosted"}, "a.toml:20"},
		{"bob@example.net", []string{"mail._domainkey.example.net/example.net/mail"}, st + ":2"},
		{"x@sub.example.net", []string{"toml-ed/example.com/ed1"}, st + ":3"},
		{"bob@customer.example", []string{"hosted/customer.example/hosted"}, st + ":4"},
		// "%" key name: the key named like the From domain.
		{"x@example.org", []string{"example.org/example.org/s2024"}, st + ":6"},
		{"x@sub.example.org", nil, st + ":5"}, // no key named sub.example.org
		{"anyone@else.example", []string{"hosted/else.example/hosted"}, st + ":7"},
		{"no-at-sign", nil, ""},
		{"trailing@", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.from, func(t *testing.T) {
			t.Parallel()
			keys, rule := set.Lookup(tt.from)
			if !reflect.DeepEqual(names(keys), tt.keys) || rule != tt.rule {
				t.Errorf("Lookup(%q) = %q, %q; want %q, %q", tt.from, names(keys), rule, tt.keys, tt.rule)
			}
		})
	}

	// Lookup returns copies: changing them does not change the Set.
	keys, _ := set.Lookup("bob@customer.example")
	keys[0].Domain = "changed.example"
	keys[0].Name = "changed"
	if again, _ := set.Lookup("carol@other.example"); again[0].Domain != "other.example" || again[0].Name != "hosted" {
		t.Errorf("Set changed through a returned key: %v", names(again))
	}
	all := set.Keys()
	if got := names(all); !reflect.DeepEqual(got, []string{
		"toml-rsa/example.com/sel1", "toml-ed/example.com/ed1",
		"mail._domainkey.example.net/example.net/mail", "hosted/%/hosted", "example.org/example.org/s2024",
	}) {
		t.Errorf("Keys() = %q", got)
	}
	all[0].Selector = "x"
	if set.Keys()[0].Selector != "sel1" {
		t.Error("Keys() returned the Set's own keys")
	}
	for _, k := range all {
		if k.Signer == nil || (k.Name == "example.org") != k.Weak() {
			t.Errorf("key %v: signer %T, weak %v", k, k.Signer, k.Weak())
		}
	}
	var nilSet *Set
	if k, r := nilSet.Lookup("a@b"); k != nil || r != "" || nilSet.Keys() != nil {
		t.Error("nil Set is not empty")
	}
}

// TestPlainSigningTableOrder checks OpenDKIM's lookup order for tables
// that are not refile: (dkimf_apply_signtable in opendkim.c). Each case
// builds a table of the given keys in reverse order of precedence, so
// file order cannot be what decides.
func TestPlainSigningTableOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	kt := f.table(t, "kt", "k "+"%:s:"+f.ed+"\n")
	order := []string{
		"user@host.sub.example.com",
		"host.sub.example.com",
		"user@.sub.example.com",
		".sub.example.com",
		"user@.example.com",
		".example.com",
		"user@.com",
		".com",
		"user@*",
		"*",
	}
	if got := plainCandidates("user", "host.sub.example.com"); !reflect.DeepEqual(got, order) {
		t.Fatalf("plainCandidates = %q", got)
	}
	for i := range order {
		t.Run(order[i], func(t *testing.T) {
			t.Parallel()
			// Entries order[i:], written most general first.
			var b strings.Builder
			for j := len(order) - 1; j >= i; j-- {
				fmt.Fprintf(&b, "%s k\n", order[j])
			}
			st := f.table(t, fmt.Sprintf("st%d", i), b.String())
			set, errs := Build(Spec{SigningTable: st, KeyTable: kt})
			if len(errs) > 0 {
				t.Fatal(errStrings(errs))
			}
			_, rule := set.Lookup("User@Host.Sub.Example.COM")
			if want := fmt.Sprintf("%s:%d", st, len(order)-i); rule != want {
				t.Errorf("rule = %s, want %s (%q)", rule, want, order[i])
			}
		})
	}
	// A plain table does not match patterns.
	st := f.table(t, "plain-exact", "example.com k\n")
	set, errs := Build(Spec{SigningTable: "file:" + st, KeyTable: "refile:" + kt})
	if len(errs) > 0 {
		t.Fatal(errStrings(errs))
	}
	for from, want := range map[string]string{"a@example.com": st + ":1", "a@xexample.com": "", "a@example.com.evil": ""} {
		if _, rule := set.Lookup(from); rule != want {
			t.Errorf("Lookup(%q) rule = %q, want %q", from, rule, want)
		}
	}
}

func TestGlobMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, addr string
		rule, refile  bool // path.Match on a TOML rule; starMatch on a refile line
	}{
		{"*@example.com", "a@example.com", true, true},
		{"*@example.com", "a@sub.example.com", false, false},
		{"*@*.example.com", "a@sub.example.com", true, true},
		{"*@*.example.com", "a@example.com", false, false},
		{"*@*.example.com", "a@x.y.example.com", true, true},
		{"alice@example.com", "alice@example.com", true, true},
		{"alice@example.com", "xalice@example.com", false, false},
		{"*", "anyone@anywhere.example", true, true},
		{"*@example.com", "a/b@example.com", false, true}, // path.Match's '*' stops at '/'
		{`\*@example.com`, "*@example.com", true, false},  // escaping in rules
		{"a?c@example.com", "abc@example.com", true, false},
		{"[ab]*@example.com", "bob@example.com", true, false},
		{"*example.com", "a@badexample.com", true, true},
		{"*@example.*", "a@example.org", true, true},
		{"**@example.com", "a@example.com", true, true},
		{"*a*b*", "xaybz", true, true},
		{"*a*b", "xaybz", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.addr, func(t *testing.T) {
			t.Parallel()
			if got, _ := matchRule(tt.pattern, tt.addr); got != tt.rule {
				t.Errorf("rule match = %v, want %v", got, tt.rule)
			}
			if got := starMatch(tt.pattern, tt.addr); got != tt.refile {
				t.Errorf("refile match = %v, want %v", got, tt.refile)
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	missing := filepath.Join(f.dir, "missing.pem")
	kt := f.table(t, "kt-errors", fmt.Sprintf(`good example.com:s:%s
nodomain
%% example.com:s:%s
dom ex_ample.com:s:%s
sel example.com:-s:%s
rel example.com:s:./k.pem
inline example.com:s:MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ
good example.com:s2:%s
toml-a example.com:s:%s
`, f.ed, f.ed, f.ed, f.ed, f.ed, f.ed))
	st := f.table(t, "st-errors", `*@example.com good
*@example.org
example.net good:alice@example.net
example.com nosuchkey
example.com good
`)
	stRe := f.table(t, "st-re", "*@(a|b).example.com good\n*@x.example good\n*@x.example good\n")
	tests := []struct {
		name string
		spec Spec
		want []string
		kind error
	}{
		{"key errors", Spec{Keys: []KeySpec{
			{Name: "a", Domain: "example.com", Selector: "s", Path: f.bad, Source: "c.toml:1"},
			{Name: "b", Domain: "example.com", Selector: "s", Path: missing, Source: "c.toml:5"},
			{Name: "a", Domain: "example.com", Selector: "s", Path: f.ed, Source: "c.toml:9"},
			{Name: "", Domain: "example.com", Selector: "s", Path: f.ed, Source: "c.toml:13"},
			{Name: "d", Domain: "example..com", Selector: "s", Path: f.ed, Source: "c.toml:17"},
			{Name: "e", Domain: "example.com", Selector: "s_1", Path: f.ed, Source: "c.toml:21"},
			{Name: "f", Domain: "example.com", Selector: "s", Path: "keys/f.pem", Source: "c.toml:25"},
		}}, []string{
			"c.toml:1: signing key \"a\": " + f.bad + ": mode 0644: readable by group, readable by others; chmod 600 " + f.bad,
			"c.toml:5: signing key \"b\": " + missing + ": no such file or directory",
			"c.toml:9: signing key \"a\" is already defined at c.toml:1",
			"c.toml:13: signing key: key name must not be empty",
			"c.toml:17: signing key \"d\": domain \"example..com\": empty label",
			"c.toml:21: signing key \"e\": selector \"s_1\": \"_\" is not allowed; use letters, digits, '-' and '.'",
			"c.toml:25: signing key \"f\": path \"keys/f.pem\" is not absolute",
		}, ErrKeyMode},
		{"group-readable allowed", Spec{AllowGroupReadable: true, Keys: []KeySpec{
			{Name: "a", Domain: "example.com", Selector: "s", Path: f.bad, Source: "c.toml:1"},
		}}, []string{
			"c.toml:1: signing key \"a\": " + f.bad + ": mode 0644: readable by others; chmod 640 " + f.bad,
		}, ErrKeyMode},
		{"rule errors", Spec{Keys: []KeySpec{
			{Name: "k", Domain: "example.com", Selector: "s", Path: f.ed, Source: "c.toml:1"},
		}, Rules: []Rule{
			{Pattern: "*@example.com", Keys: []string{"k", "kk"}, Source: "c.toml:6"},
			{Pattern: "example.com", Keys: []string{"k"}, Source: "c.toml:9"},
			{Pattern: "[*@example.com", Keys: []string{"k"}, Source: "c.toml:12"},
			{Pattern: "*@example.org", Keys: nil, Source: "c.toml:15"},
			{Pattern: "*@example.net", Keys: []string{"k", "k"}, Source: "c.toml:18"},
		}}, []string{
			"c.toml:6: signing rule \"*@example.com\": no signing key is named \"kk\"",
			"c.toml:9: signing rule: pattern \"example.com\" has no '@' and would never match an address; write \"*@example.com\"",
			"c.toml:12: signing rule: pattern \"[*@example.com\" is malformed (unclosed '[' or trailing '\\')",
			"c.toml:15: signing rule \"*@example.org\" names no keys",
			"c.toml:18: signing rule \"*@example.net\" names key \"k\" twice",
		}, ErrRule},
		{"table errors", Spec{KeyTable: kt, SigningTable: st, Keys: []KeySpec{
			{Name: "toml-a", Domain: "example.com", Selector: "s", Path: f.ed, Source: "c.toml:1"},
		}}, []string{
			kt + ":2: key \"nodomain\": expected domain:selector:/path/to/key after the key name",
			kt + ":3: key name \"%\" is reserved: in a SigningTable it means the key named like the From domain",
			kt + ":4: key \"dom\": domain \"ex_ample.com\": \"_\" is not allowed; use letters, digits, '-' and '.'",
			kt + ":5: key \"sel\": selector \"-s\": label \"-s\" starts or ends with '-'",
			kt + ":6: key \"rel\": relative key path; write the absolute path",
			kt + ":7: key \"inline\": the third value is not an absolute path; keys written into the KeyTable are not supported: put the key in a file (chmod 600) and give its path",
			kt + ":8: key \"good\" is already defined on line 1",
			kt + ":9: signing key \"toml-a\" is already defined at c.toml:1",
			st + ":1: \"*@example.com\" contains '*', which only matches in a refile: table; use signing_table = \"refile:" + st + "\", or write \"example.com\"",
			st + ":2: \"*@example.org\" has no key name after it",
			st + ":3: \"example.net\": a second value (the signer identity, for i=) is not supported; write only the key name",
			st + ":4: \"example.com\": no signing key is named \"nosuchkey\" (in the KeyTable or a [[signing.key]])",
			st + ":5: \"example.com\" is already on line 4, which wins",
		}, ErrTable},
		{"refile errors", Spec{SigningTable: "refile:" + stRe, KeyTable: kt}, nil, ErrTable},
		{"unreadable tables", Spec{SigningTable: "refile:" + filepath.Join(f.dir, "nost"), KeyTable: f.dir}, []string{
			f.dir + ": not a regular file",
			filepath.Join(f.dir, "nost") + ": cannot read: no such file or directory",
		}, ErrTable},
		{"table syntax", Spec{SigningTable: "db:/etc/x.db", KeyTable: "relative"}, []string{
			"key_table \"relative\": path \"relative\" is not absolute",
			"signing_table \"db:/etc/x.db\": OpenDKIM \"db:\" datasets are not supported; convert the table to a flat file and give its path (or \"refile:PATH\")",
		}, ErrTable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			set, errs := Build(tt.spec)
			if set != nil || len(errs) == 0 {
				t.Fatalf("Build = %v, %v", set, errs)
			}
			got := errStrings(errs)
			if tt.want == nil { // only check the refile lines
				want := []string{
					stRe + ":1: pattern \"*@(a|b).example.com\" uses \"(\", which OpenDKIM would read as regular-expression syntax; refile patterns may only use '*'",
					stRe + ":3: \"*@x.example\" is already on line 2, which wins",
				}
				if len(got) < 2 || !reflect.DeepEqual(got[len(got)-2:], want) {
					t.Errorf("errors:\n got %q\nwant (at the end) %q", got, want)
				}
			} else if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if !errors.Is(errs[0], tt.kind) {
				t.Errorf("first error %v is not %v", errs[0], tt.kind)
			}
			var e *Error
			if !errors.As(errs[0], &e) {
				t.Errorf("first error is %T", errs[0])
			}
		})
	}
}

func TestSplitSource(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]struct {
		file string
		line int
	}{
		"a.toml:12":        {"a.toml", 12},
		"/etc/x:y.toml:3":  {"/etc/x:y.toml", 3},
		"plain":            {"plain", 0},
		"file:":            {"file:", 0},
		"C:0":              {"C:0", 0},
		"/etc/opendkim/kt": {"/etc/opendkim/kt", 0},
	} {
		if f, l := splitSource(src); f != want.file || l != want.line {
			t.Errorf("splitSource(%q) = %q, %d", src, f, l)
		}
	}
}

func TestSyntaxChecks(t *testing.T) {
	t.Parallel()
	good := map[string]func(string) error{
		"example.com": CheckDomain, "%": CheckDomain, "xn--bcher-kva.example": CheckDomain, "EXAMPLE.COM": CheckDomain,
		"s1": CheckSelector, "2024-01.mail": CheckSelector,
		"mail._domainkey.example.com": CheckKeyName,
		"/etc/dkim/k.pem":             CheckKeyPath,
		"*@example.com":               CheckPattern, "*": CheckPattern,
		"":                         CheckTablePath,
		"refile:/etc/opendkim/st":  CheckTablePath,
		"file:/etc/opendkim/kt":    CheckTablePath,
		"/etc/opendkim/KeyTable":   CheckTablePath,
		"/etc/odd:name/SigningTab": CheckTablePath,
	}
	for v, check := range good {
		if err := check(v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
	bad := []struct {
		v     string
		check func(string) error
		want  string
	}{
		{"", CheckDomain, "domain must not be empty"},
		{"bücher.example", CheckDomain, `domain "bücher.example": write non-ASCII names as A-labels (xn--...)`},
		{"a b", CheckDomain, `domain "a b": " " is not allowed; use letters, digits, '-' and '.'`},
		{strings.Repeat("a", 64) + ".com", CheckDomain, `domain "` + strings.Repeat("a", 64) + `.com": label longer than 63 bytes`},
		{strings.Repeat("a.", 127), CheckDomain, "domain is 254 bytes, longer than 253"},
		{"", CheckSelector, "selector must not be empty"},
		{"s.", CheckSelector, `selector "s.": empty label`},
		{"%", CheckKeyName, `key name "%" is reserved: in a SigningTable it means the key named like the From domain`},
		{"a b", CheckKeyName, `key name "a b": only printable ASCII without spaces or '#' is allowed`},
		{"k#1", CheckKeyName, `key name "k#1": only printable ASCII without spaces or '#' is allowed`},
		{"", CheckPattern, "pattern must not be empty"},
		{"*@a\x01", CheckPattern, `pattern "*@a\x01" contains a control character`},
		{`*@a\`, CheckPattern, `pattern "*@a\\" is malformed (unclosed '[' or trailing '\')`},
		{"ldap://x/y", CheckTablePath, `"ldap://x/y": OpenDKIM "ldap:" datasets are not supported; convert the table to a flat file and give its path (or "refile:PATH")`},
		{"refile:st", CheckTablePath, `"refile:st": path "st" is not absolute`},
		{"/etc/", CheckTablePath, `"/etc/": path "/etc/" names a directory`},
	}
	for _, tt := range bad {
		if err := tt.check(tt.v); err == nil || err.Error() != tt.want {
			t.Errorf("%q: %v\nwant %s", tt.v, err, tt.want)
		}
	}
}

func TestReadTableLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "big")
	fh, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(maxTableSize + 1); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if _, err := readTable(p); err == nil || err.Error() != p+": larger than 16777216 bytes" || !errors.Is(err, ErrTable) {
		t.Errorf("readTable = %v", err)
	}
}

// TestLookupConcurrent runs Lookup from many goroutines, each changing the
// keys it gets back, for the race detector.
func TestLookupConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	set, errs := Build(Spec{
		Keys:  []KeySpec{{Name: "k", Domain: "%", Selector: "s", Path: f.ed, Source: "c:1"}},
		Rules: []Rule{{Pattern: "*", Keys: []string{"k"}, Source: "c:2"}},
	})
	if len(errs) > 0 {
		t.Fatal(errStrings(errs))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				domain := fmt.Sprintf("d%d-%d.example", g, i)
				keys, _ := set.Lookup("a@" + domain)
				if len(keys) != 1 || keys[0].Domain != domain {
					t.Errorf("Lookup = %v", names(keys))
					return
				}
				keys[0].Domain = "mutated"
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkLookupPlainTable(b *testing.B) {
	testKeys(nil)
	dir := b.TempDir()
	key := filepath.Join(dir, "k")
	if err := os.WriteFile(key, pemBytes("PRIVATE KEY", mustPKCS8(edKey)), 0o600); err != nil {
		b.Fatal(err)
	}
	var st strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&st, "d%d.example k\n", i)
	}
	stPath := filepath.Join(dir, "st")
	ktPath := filepath.Join(dir, "kt")
	if err := os.WriteFile(stPath, []byte(st.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(ktPath, []byte("k %:s:"+key+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	set, errs := Build(Spec{SigningTable: stPath, KeyTable: ktPath})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if keys, _ := set.Lookup("user@mail.d9999.example"); len(keys) != 0 {
			b.Fatal("matched")
		}
	}
}
