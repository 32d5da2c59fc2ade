package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/keystore"
)

func TestParseSigning(t *testing.T) {
	t.Parallel()
	src := strings.Join([]string{
		`[signing]`, // 1
		`signing_table = "refile:/etc/opendkim/SigningTable"`, // 2
		`key_table = "file:/etc/opendkim/KeyTable"`,           // 3
		`daemon_names = ["ORIGINATING", "submission"]`,        // 4
		`canonicalization = "simple/relaxed"`,                 // 5
		`profile = "minimal"`,                                 // 6
		`headers = ["From", "Subject", "Date"]`,               // 7
		`oversign = ["From", "Subject"]`,                      // 8
		`expire = "168h"`,                                     // 9
		`on_key_missing = "accept"`,                           // 10
		`on_error = "accept"`,                                 // 11
		`allow_group_readable_keys = true`,                    // 12
		``,                                                    // 13
		`[[signing.key]]`,                                     // 14
		`name = "rsa"`,                                        // 15
		`domain = "example.com"`,                              // 16
		`selector = "s2024"`,                                  // 17
		`private_key = "/etc/authmilter/rsa.pem"`,             // 18
		`[[signing.key]]`,                                     // 19
		`name = "hosted"`,                                     // 20
		`domain = "%"`,                                        // 21
		`selector = "ed"`,                                     // 22
		`private_key = "/etc/authmilter/ed.key"`,              // 23
		`[[signing.rule]]`,                                    // 24
		`from = "*@example.com"`,                              // 25
		`keys = ["rsa", "hosted"]`,                            // 26
		`[[signing.rule]]`,                                    // 27
		`from = "*"`,                                          // 28
		`keys = ["from-the-key-table"]`,                       // 29
	}, "\n")
	c, err := parseTest(src)
	if err != nil {
		t.Fatal(err)
	}
	want := SigningConfig{
		Keys: []SigningKey{
			{Name: "rsa", Domain: "example.com", Selector: "s2024", PrivateKey: "/etc/authmilter/rsa.pem", Line: 14},
			{Name: "hosted", Domain: "%", Selector: "ed", PrivateKey: "/etc/authmilter/ed.key", Line: 19},
		},
		Rules: []SigningRule{
			{From: "*@example.com", Keys: []string{"rsa", "hosted"}, Line: 24},
			{From: "*", Keys: []string{"from-the-key-table"}, Line: 27},
		},
		SigningTable: "refile:/etc/opendkim/SigningTable", KeyTable: "file:/etc/opendkim/KeyTable",
		DaemonNames: []string{"ORIGINATING", "submission"}, Canonicalization: "simple/relaxed",
		Profile: "minimal", Headers: []string{"From", "Subject", "Date"}, Oversign: []string{"From", "Subject"},
		Expire: Duration{168 * time.Hour}, OnKeyMissing: "accept", OnError: "accept", AllowGroupReadableKeys: true,
	}
	if !reflect.DeepEqual(c.Signing, want) {
		t.Errorf("\n got %+v\nwant %+v", c.Signing, want)
	}
	if c.KeySet() != nil {
		t.Error("Parse built a key set")
	}
	spec := c.KeySpec()
	wantSpec := keystore.Spec{
		Keys: []keystore.KeySpec{
			{Name: "rsa", Domain: "example.com", Selector: "s2024", Path: "/etc/authmilter/rsa.pem", Source: "t.toml:14"},
			{Name: "hosted", Domain: "%", Selector: "ed", Path: "/etc/authmilter/ed.key", Source: "t.toml:19"},
		},
		Rules: []keystore.Rule{
			{Pattern: "*@example.com", Keys: []string{"rsa", "hosted"}, Source: "t.toml:24"},
			{Pattern: "*", Keys: []string{"from-the-key-table"}, Source: "t.toml:27"},
		},
		SigningTable: "refile:/etc/opendkim/SigningTable", KeyTable: "file:/etc/opendkim/KeyTable", AllowGroupReadable: true,
	}
	if !reflect.DeepEqual(spec, wantSpec) {
		t.Errorf("KeySpec:\n got %+v\nwant %+v", spec, wantSpec)
	}

	// Other spellings: inline arrays of inline tables, an empty
	// daemon_names, expire at its bounds.
	c, err = parseTest("signing.daemon_names = []\nsigning.expire = \"8760h\"\nsigning.key = [{name = \"k\", domain = \"a.example\", selector = \"s\", private_key = \"/k\"}]\nsigning.rule = [\n  {from = \"*@a.example\", keys = [\"k\"]},\n]\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Signing.DaemonNames) != 0 || c.Signing.DaemonNames == nil || c.Signing.Expire.Duration != 8760*time.Hour ||
		!reflect.DeepEqual(c.Signing.Keys, []SigningKey{{Name: "k", Domain: "a.example", Selector: "s", PrivateKey: "/k", Line: 3}}) ||
		!reflect.DeepEqual(c.Signing.Rules, []SigningRule{{From: "*@a.example", Keys: []string{"k"}, Line: 5}}) {
		t.Errorf("inline: %+v", c.Signing)
	}
}

func TestParseSigningErrors(t *testing.T) {
	t.Parallel()
	key := "[[signing.key]]\nname = \"k\"\ndomain = \"example.com\"\nselector = \"s\"\nprivate_key = \"/k\"\n" // lines 1-5
	tests := []struct {
		name string
		src  string
		want []string
		kind error
	}{
		{"key syntax", "[[signing.key]]\nname = \"a b\"\ndomain = \"exa_mple.com\"\nselector = \"\"\nprivate_key = \"keys/a.pem\"\n", []string{
			`t.toml:2: signing.key[0].name: key name "a b": only printable ASCII without spaces or '#' is allowed`,
			`t.toml:3: signing.key[0].domain: domain "exa_mple.com": "_" is not allowed; use letters, digits, '-' and '.'`,
			`t.toml:4: signing.key[0].selector: selector must not be empty`,
			`t.toml:5: signing.key[0].private_key: path "keys/a.pem" is not absolute`,
		}, ErrValue},
		{"missing key fields", "[[signing.key]]\nname = \"k\"\n[[signing.rule]]\n", []string{
			`t.toml:1: signing.key[0]: missing "domain"`,
			`t.toml:1: signing.key[0]: missing "selector"`,
			`t.toml:1: signing.key[0]: missing "private_key"`,
			`t.toml:3: signing.rule[0]: missing "from"`,
			`t.toml:3: signing.rule[0]: missing "keys"`,
		}, ErrValue},
		{"unknown key in key table", "[[signing.key]]\nname = \"k\"\nkey_file = \"/k\"\n", []string{
			`t.toml:1: signing.key[0]: missing "domain"`,
			`t.toml:1: signing.key[0]: missing "selector"`,
			`t.toml:1: signing.key[0]: missing "private_key"`,
			`t.toml:3: unknown key "signing.key[0].key_file"`,
		}, ErrValue},
		{"duplicate key names", key + key, []string{
			`t.toml:7: signing.key[1].name: "k" is already the name of signing.key[0]`,
		}, ErrValue},
		{"rule names a missing key", key + "[[signing.rule]]\nfrom = \"*@example.com\"\nkeys = [\"k\", \"kk\", \"k\"]\n", []string{
			`t.toml:8: signing.rule[0].keys[1]: no [[signing.key]] is named "kk"`,
			`t.toml:8: signing.rule[0].keys[2]: "k" is already listed as signing.rule[0].keys[0]`,
		}, ErrValue},
		{"rule syntax", "[[signing.rule]]\nfrom = \"example.com\"\nkeys = []\n[[signing.rule]]\nfrom = \"[x@example.com\"\nkeys = [\"a b\", 1]\n", []string{
			`t.toml:2: signing.rule[0].from: pattern "example.com" has no '@' and would never match an address; write "*@example.com"`,
			`t.toml:3: signing.rule[0].keys: must name at least one key`,
			`t.toml:5: signing.rule[1].from: pattern "[x@example.com" is malformed (unclosed '[' or trailing '\')`,
			`t.toml:6: signing.rule[1].keys[0]: key name "a b": only printable ASCII without spaces or '#' is allowed`,
			`t.toml:6: signing.rule[1].keys[1]: expected a string, got integer 1`,
		}, ErrValue},
		{"signing as array of tables", "[[signing]]\nprofile = \"default\"\n", []string{
			`t.toml:1: signing: expected a table ([signing]), got an array of tables`,
		}, ErrType},
		{"key as table", "[signing.key]\nname = \"k\"\n", []string{
			`t.toml:1: signing.key: expected an array of tables ([[signing.key]]), got a table`,
		}, ErrType},
		{"key as array of strings", "[signing]\nkey = [\"k\"]\n", []string{
			`t.toml:2: signing.key[0]: expected a table, got string "k"`,
		}, ErrType},
		{"tables", "[signing]\nsigning_table = \"SigningTable\"\nkey_table = \"db:/etc/opendkim/KeyTable.db\"\n", []string{
			`t.toml:2: signing.signing_table: "SigningTable": path "SigningTable" is not absolute`,
			`t.toml:3: signing.key_table: "db:/etc/opendkim/KeyTable.db": OpenDKIM "db:" datasets are not supported; convert the table to a flat file and give its path (or "refile:PATH")`,
		}, ErrValue},
		{"canonicalization", "[signing]\ncanonicalization = \"relaxed\"\n", []string{
			`t.toml:2: signing.canonicalization: "relaxed" is ambiguous: write "relaxed/relaxed" or "relaxed/simple"`,
		}, ErrValue},
		{"canonicalization bad", "[signing]\ncanonicalization = \"nofws/simple\"\n", []string{
			`t.toml:2: signing.canonicalization: "nofws/simple" is not header/body with each "simple" or "relaxed", such as "relaxed/relaxed"`,
		}, ErrValue},
		{"enums", "[signing]\nprofile = \"all\"\non_key_missing = \"reject\"\non_error = \"discard\"\n", []string{
			`t.toml:2: signing.profile: "all" is not one of "default" or "minimal"`,
			`t.toml:3: signing.on_key_missing: "reject" is not one of "tempfail" or "accept"`,
			`t.toml:4: signing.on_error: "discard" is not one of "tempfail" or "accept"`,
		}, ErrValue},
		{"headers without From", "[signing]\nheaders = [\"Subject\", \"To\"]\n", []string{
			`t.toml:2: signing.headers: must include "From" (RFC 6376 Section 5.4); remove headers to use the profile's list`,
		}, ErrValue},
		{"empty headers", "[signing]\nheaders = []\n", []string{
			`t.toml:2: signing.headers: must include "From" (RFC 6376 Section 5.4); remove headers to use the profile's list`,
		}, ErrValue},
		{"header names", "[signing]\nheaders = [\"From\", \"from\", \"X-A:\"]\noversign = [\"From\", \"Sub ject\"]\n", []string{
			`t.toml:2: signing.headers[2]: "X-A:" is not a header field name: it contains ':'; write the name only`,
			`t.toml:3: signing.oversign[1]: "Sub ject" is not a header field name: it contains a space`,
		}, ErrValue},
		{"duplicate headers", "[signing]\nheaders = [\"From\", \"from\"]\noversign = [\"From\", \"FROM\"]\n", []string{
			`t.toml:2: signing.headers[1]: "from" is already listed as signing.headers[0]`,
			`t.toml:3: signing.oversign[1]: "FROM" is already listed as signing.oversign[0]`,
		}, ErrValue},
		{"expire", "[signing]\nexpire = \"30m\"\n", []string{
			`t.toml:2: signing.expire: must be 0 (no x=) or at least 1h, got "30m": a signature that expires sooner can die in a retry queue`,
		}, ErrValue},
		{"expire long", "[signing]\nexpire = \"8761h\"\n", []string{
			`t.toml:2: signing.expire: must be at most 8760h (a year), got "8761h"`,
		}, ErrValue},
		{"expire fraction", "[signing]\nexpire = \"1h0.5s\"\n", []string{
			`t.toml:2: signing.expire: must be whole seconds (x= counts seconds), got "1h0.5s"`,
		}, ErrValue},
		{"expire integer", "[signing]\nexpire = 3600\n", []string{
			`t.toml:2: signing.expire: expected a duration string such as "0s" or "168h", got integer 3600`,
		}, ErrType},
		{"daemon names", "[signing]\ndaemon_names = [\"\", \"my daemon\"]\n", []string{
			`t.toml:2: signing.daemon_names[0]: must not be empty`,
			`t.toml:2: signing.daemon_names[1]: "my daemon": only printable ASCII without spaces is allowed`,
		}, ErrValue},
		{"allow_group_readable_keys", "[signing]\nallow_group_readable_keys = \"yes\"\n", []string{
			`t.toml:2: signing.allow_group_readable_keys: expected true or false, got string "yes"`,
		}, ErrType},
		{"typo", "[signing]\nsigningtable = \"/x\"\n", []string{
			`t.toml:2: unknown key "signing.signingtable" (did you mean "signing.signing_table"?)`,
		}, ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseTest(tt.src)
			if err == nil {
				t.Fatalf("no error; config %+v", c.Signing)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T", err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if !errors.Is(errs[0], tt.kind) {
				t.Errorf("first error %v is not %v", errs[0], tt.kind)
			}
		})
	}
}

func TestLoadSigning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed := make([]byte, ed25519.SeedSize)
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pem", keyPEM, 0o600)
	group := write("group.pem", keyPEM, 0o640)
	garbage := write("garbage.pem", []byte("not a key\n"), 0o600)
	kt := write("KeyTable", []byte("tablekey example.org:sel:"+good+"\nbroken example.org\n"), 0o644)
	st := write("SigningTable", []byte("*@example.org tablekey\n*@example.net nokey\n"), 0o644)
	keyTOML := func(name, path string) string {
		return "[[signing.key]]\nname = \"" + name + "\"\ndomain = \"example.com\"\nselector = \"s\"\nprivate_key = \"" + path + "\"\n"
	}

	t.Run("good", func(t *testing.T) {
		t.Parallel()
		p := write("good.toml", []byte("authserv_id = \"mx.example\"\n"+keyTOML("k", good)+"[[signing.rule]]\nfrom = \"*@example.com\"\nkeys = [\"k\"]\n"), 0o644)
		c, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		keys, rule := c.KeySet().Lookup("a@example.com")
		if len(keys) != 1 || keys[0].Name != "k" || keys[0].Algorithm != keystore.Ed25519SHA256 || rule != p+":7" {
			t.Errorf("Lookup = %v, %q", keys, rule)
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		p := write("bad.toml", []byte("authserv_id = \"mx.example\"\n"+ // 1
			keyTOML("open", group)+ // 2-6
			keyTOML("junk", garbage)+ // 7-11
			keyTOML("gone", filepath.Join(dir, "gone.pem"))+ // 12-16
			"[[signing.rule]]\nfrom = \"*@example.com\"\nkeys = [\"open\", \"tablekey\", \"missing\"]\n"+ // 17-19
			"[signing]\nsigning_table = \"refile:"+st+"\"\nkey_table = \""+kt+"\"\n"), 0o644)
		_, err := Load(p)
		want := []string{
			p + ":2: signing key \"open\": " + group + ": mode 0640: readable by group; chmod 600 " + group,
			p + ":7: signing key \"junk\": " + garbage + ": not a PEM, base64 or DER private key",
			p + ":12: signing key \"gone\": " + filepath.Join(dir, "gone.pem") + ": no such file or directory",
			p + ":17: signing rule \"*@example.com\": no signing key is named \"missing\"",
			kt + ":2: key \"broken\": expected domain:selector:/path/to/key after the key name",
			st + ":2: \"*@example.net\": no signing key is named \"nokey\" (in the KeyTable or a [[signing.key]])",
		}
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Load = %v", err)
		}
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("errors:\n got %q\nwant %q", got, want)
		}
		for _, kind := range []error{ErrValue, keystore.ErrKeyMode, keystore.ErrKeyFormat, keystore.ErrKeyFile, keystore.ErrRule, keystore.ErrTable} {
			if !errors.Is(err, kind) {
				t.Errorf("errors.Is(err, %v) = false", kind)
			}
		}
	})
	t.Run("group readable allowed", func(t *testing.T) {
		t.Parallel()
		p := write("group.toml", []byte("authserv_id = \"mx.example\"\n[signing]\nallow_group_readable_keys = true\n"+keyTOML("open", group)), 0o644)
		c, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if keys := c.KeySet().Keys(); len(keys) != 1 || keys[0].Path != group {
			t.Errorf("Keys() = %v", keys)
		}
	})
	t.Run("Parse does not read keys", func(t *testing.T) {
		t.Parallel()
		c, err := parseTest(keyTOML("gone", filepath.Join(dir, "gone.pem")))
		if err != nil || c.KeySet() != nil {
			t.Errorf("Parse = %v, %v", c, err)
		}
	})
}
