package config

import (
	"bytes"
	"os"
	"reflect"
	"regexp"
	"testing"
)

// examplePath is the commented example configuration shipped in contrib/.
const examplePath = "../contrib/authmilter.toml"

// TestExampleFile checks that the shipped example loads without errors and
// that the values it shows are the defaults, as it claims ("deleting a line
// changes nothing").
func TestExampleFile(t *testing.T) {
	t.Parallel()
	c, err := Load(examplePath)
	if err != nil {
		t.Fatalf("%s does not load:\n%v", examplePath, err)
	}
	want := Default()
	want.Source = examplePath
	want.AuthservID = "mx.example.net"
	if c.KeySet() != nil {
		t.Errorf("example loaded keys: %v", c.KeySet().Keys())
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example differs from the defaults:\n got %+v\nwant %+v", c, want)
	}
}

// disabledSetting matches a commented-out setting ("# key = value"), as
// opposed to prose ("#   indented example" or "# Text.").
var disabledSetting = regexp.MustCompile(`(?m)^# ([a-z_]+ = )`)

// TestExampleComplete checks that the example documents every key of the
// schema, set or commented out, and that the commented-out settings are
// valid too once enabled (with a Unix socket, which socket_mode needs).
func TestExampleComplete(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	enabled := disabledSetting.ReplaceAll(src, []byte("$1"))
	if bytes.Equal(enabled, src) {
		t.Fatal("no commented-out settings found; has the example's style changed?")
	}
	enabled = bytes.Replace(enabled, []byte(`listen = "inet:127.0.0.1:8891"`), []byte(`listen = "unix:/run/authmilter/authmilter.sock"`), 1)
	c, err := parse("enabled", bytes.NewReader(enabled), testDefaults())
	if err != nil {
		t.Fatalf("example with every setting enabled does not load:\n%v", err)
	}
	if len(c.DNS.Nameservers) == 0 || c.SocketMode != 0o660 {
		t.Errorf("enabled example: nameservers %v, socket mode %o", c.DNS.Nameservers, c.SocketMode)
	}
	lines := keyLines(string(enabled))
	for _, p := range keyPaths(configFields) {
		if _, ok := lines[p]; !ok && !bytes.Contains(src, []byte("#   [["+p+"]]\n")) {
			t.Errorf("key %q is not in %s", p, examplePath)
		}
	}
	// Arrays of tables are shown as indented examples (they need key
	// files): check each of them, with every key, after un-indenting.
	if len(c.Signing.Keys) != 0 || c.Signing.SigningTable == "" || c.Signing.KeyTable == "" || len(c.Signing.Headers) == 0 {
		t.Errorf("enabled example: signing %+v", c.Signing)
	}
	tables := indentedExample.FindAllSubmatch(src, -1)
	if len(tables) != 2 {
		t.Fatalf("found %d indented [[signing.*]] examples, want 2", len(tables))
	}
	var b bytes.Buffer
	for _, m := range tables {
		b.Write(regexp.MustCompile(`(?m)^#   `).ReplaceAll(m[0], nil))
	}
	ex, err := parse("tables", &b, testDefaults())
	if err != nil {
		t.Fatalf("indented [[signing.*]] examples do not parse:\n%s\n%v", b.String(), err)
	}
	want := SigningConfig{
		Keys:  []SigningKey{{Name: "main", Domain: "example.com", Selector: "2024", PrivateKey: "/etc/authmilter/keys/example.com.2024.pem", Line: 1}},
		Rules: []SigningRule{{From: "*@example.com", Keys: []string{"main"}, Line: 6}},
	}
	if got := ex.Signing; !reflect.DeepEqual(got.Keys, want.Keys) || !reflect.DeepEqual(got.Rules, want.Rules) {
		t.Errorf("indented examples: %+v", got)
	}
}

// indentedExample matches an indented [[table]] example and its keys.
var indentedExample = regexp.MustCompile(`(?m)^#   \[\[signing\.[a-z]+\]\]\n(?:#   [a-z_]+ = .*\n)+`)
