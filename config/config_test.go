package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testDefaults is Default with a fixed authserv-id, so results do not
// depend on the host name of the machine running the tests.
func testDefaults() *Config {
	c := Default()
	c.AuthservID = "default.example"
	return c
}

func parseTest(src string) (*Config, error) {
	return parse("t.toml", strings.NewReader(src), testDefaults())
}

func TestDefault(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.Listen != "inet:127.0.0.1:8891" || c.SocketMode != 0o660 ||
		c.Log != (LogConfig{Level: "info", Format: "console"}) ||
		c.DNS.Nameservers != nil || c.DNS.Timeout.Duration != 5*time.Second || c.DNS.CacheSize != 10000 ||
		c.Milter != (MilterConfig{ShutdownTimeout: Duration{30 * time.Second}, IOTimeout: Duration{10 * time.Minute}}) ||
		c.Verify != (VerifyConfig{OnDNSError: "accept", MaxSignatures: 5, MinRSABits: 1024, MaxHeaderBytes: 262144, SPFHelo: true}) ||
		!reflect.DeepEqual(c.InternalNetworks, prefixes("127.0.0.0/8", "::1/128")) ||
		!reflect.DeepEqual(c.DMARC, DMARCConfig{
			Enforce: true, Quarantine: "hold", Mode: "rfc9989", OnDNSError: "accept",
			MailingLists: "enforce", MultipleAuthors: "reject", MalformedFrom: "reject",
			RelayWithoutReceived: "tempfail",
			RejectText:           "Message rejected by DMARC policy of the From domain",
			QuarantineHeader:     "X-Authmilter-Quarantine",
		}) ||
		c.Metrics != (MetricsConfig{}) ||
		c.Source != "" {
		t.Errorf("Default() = %+v", c)
	}
	// Each call returns its own slices, so a caller that appends to one
	// cannot change the defaults of another.
	c.InternalNetworks[0] = netip.MustParsePrefix("192.0.2.0/24")
	if Default().InternalNetworks[0] != netip.MustParsePrefix("127.0.0.0/8") {
		t.Error("Default() shares InternalNetworks between calls")
	}
	// Default must itself be valid: an empty file gives exactly the
	// defaults.
	got, err := parseTest("")
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	want := testDefaults()
	want.Source = "t.toml"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("empty file:\n got %+v\nwant %+v", got, want)
	}
}

// TestDefaultAuthservID checks the host-name default through the public
// Parse, whatever this machine's host name is.
func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestDefaultAuthservID(t *testing.T) {
	t.Parallel()
	c, err := Parse("", strings.NewReader(""))
	if h := hostnameAuthservID(); h != "" {
		if err != nil || c.AuthservID != h {
			t.Errorf("Parse(empty) = %v, %v; want AuthservID %q", c, err, h)
		}
	} else if err == nil || !strings.Contains(err.Error(), "authserv_id: not set") {
		t.Errorf("unusable host name: Parse(empty) err = %v", err)
	}
	// With authserv_id set, the host name does not matter.
	c, err = Parse("x", strings.NewReader(`authserv_id = "mx.example.org"`))
	if err != nil || c.AuthservID != "mx.example.org" || c.Source != "x" {
		t.Errorf("Parse = %+v, %v", c, err)
	}
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want func(c *Config) // applied to testDefaults()
	}{
		{"empty", "", nil},
		{"comments and blank lines", "# nothing\n\n   # here\n\n", nil},
		{"BOM", "\uFEFFlisten = \"inet:127.0.0.1:9999\"\n", func(c *Config) { c.Listen = "inet:127.0.0.1:9999" }},
		{"CRLF", "listen = \"inet:127.0.0.1:9999\"\r\n[log]\r\nlevel = \"debug\"\r\n", func(c *Config) {
			c.Listen = "inet:127.0.0.1:9999"
			c.Log.Level = "debug"
		}},
		{"unix socket with mode", "listen = \"unix:/run/authmilter/milter.sock\"\nsocket_mode = \"0600\"\n", func(c *Config) {
			c.Listen = "unix:/run/authmilter/milter.sock"
			c.SocketMode = 0o600
		}},
		{"socket mode without leading zero", "listen = \"unix:/s\"\nsocket_mode = \"660\"\n", func(c *Config) {
			c.Listen = "unix:/s"
			c.SocketMode = 0o660
		}},
		{"socket mode 0o", "listen = \"unix:/s\"\nsocket_mode = \"0o666\"\n", func(c *Config) {
			c.Listen = "unix:/s"
			c.SocketMode = 0o666
		}},
		{"sendmail local socket", `listen = "local:/var/run/authmilter.sock"`, func(c *Config) { c.Listen = "local:/var/run/authmilter.sock" }},
		{"IPv6 listen", `listen = "inet:[::1]:8891"`, func(c *Config) { c.Listen = "inet:[::1]:8891" }},
		{"host name listen", `listen = "inet:localhost:10025"`, func(c *Config) { c.Listen = "inet:localhost:10025" }},
		{"all addresses", `listen = "inet:0.0.0.0:65535"`, func(c *Config) { c.Listen = "inet:0.0.0.0:65535" }},
		{"authserv_id", `authserv_id = "MX-1.example_internal.NET"`, func(c *Config) { c.AuthservID = "MX-1.example_internal.NET" }},
		{"short authserv_id", `authserv_id = "mx1"`, func(c *Config) { c.AuthservID = "mx1" }},
		{"log", "[log]\nlevel = \"warn\"\nformat = \"json\"\n", func(c *Config) { c.Log = LogConfig{Level: "warn", Format: "json"} }},
		{"nameservers normalised", "[dns]\nnameservers = [\"127.0.0.1\", \"192.0.2.1:5353\", \"::1\", \"[2001:db8::1]:53\", \"[2001:DB8::2]\", \"fe80::1%eth0\"]\n", func(c *Config) {
			c.DNS.Nameservers = []string{"127.0.0.1:53", "192.0.2.1:5353", "[::1]:53", "[2001:db8::1]:53", "[2001:db8::2]:53", "[fe80::1%eth0]:53"}
		}},
		{"empty nameservers", "[dns]\nnameservers = []\n", func(c *Config) { c.DNS.Nameservers = []string{} }},
		{"dns limits", "[dns]\ntimeout = \"60s\"\ncache_size = 0\n", func(c *Config) {
			c.DNS.Timeout = Duration{time.Minute}
			c.DNS.CacheSize = 0
		}},
		{"smallest dns timeout", "[dns]\ntimeout = \"1ns\"\n", func(c *Config) { c.DNS.Timeout = Duration{1} }},
		{"milter", "[milter]\nshutdown_timeout = \"0s\"\nio_timeout = \"1h\"\n", func(c *Config) {
			c.Milter = MilterConfig{ShutdownTimeout: Duration{0}, IOTimeout: Duration{time.Hour}}
		}},
		{"metrics loopback", "[metrics]\nlisten = \"127.0.0.1:9891\"\n", func(c *Config) { c.Metrics.Listen = "127.0.0.1:9891" }},
		{"metrics IPv6", "[metrics]\nlisten = \"[::1]:9891\"\n", func(c *Config) { c.Metrics.Listen = "[::1]:9891" }},
		{"metrics localhost", "metrics.listen = \"localhost:65535\"\n", func(c *Config) { c.Metrics.Listen = "localhost:65535" }},
		{"metrics every address", "[metrics]\nlisten = \"0.0.0.0:1\"\n", func(c *Config) { c.Metrics.Listen = "0.0.0.0:1" }},
		{"metrics off", "[metrics]\nlisten = \"\"\n", nil},
		{"verify", "[verify]\non_dns_error = \"tempfail\"\nmax_signatures = 50\nmin_rsa_bits = 4096\nmax_header_bytes = 8192\nspf_helo = false\n", func(c *Config) {
			c.Verify = VerifyConfig{OnDNSError: "tempfail", MaxSignatures: 50, MinRSABits: 4096, MaxHeaderBytes: 8192, SPFHelo: false}
		}},
		{"inline table", `log = { level = "error", format = "json" }`, func(c *Config) { c.Log = LogConfig{Level: "error", Format: "json"} }},
		{"dotted keys", "dns.timeout = \"2s\"\nverify.max_signatures = 1\n", func(c *Config) {
			c.DNS.Timeout = Duration{2 * time.Second}
			c.Verify.MaxSignatures = 1
		}},
		{"internal networks canonical", "internal_networks = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:DB8:0::/32\", \"::1\", \"fe80::/10\", \"192.0.2.0/32\"]\n", func(c *Config) {
			c.InternalNetworks = prefixes("10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32", "::1/128", "fe80::/10", "192.0.2.0/32")
		}},
		{"no internal networks", "internal_networks = []\n", func(c *Config) { c.InternalNetworks = []netip.Prefix{} }},
		{"dmarc", strings.Join([]string{
			`[dmarc]`,
			`enforce = false`,
			`quarantine = "header"`,
			`trusted_forwarders = ["198.51.100.0/24", "2001:db8:f::/48"]`,
			`trusted_relays = ["203.0.113.25", "2001:db8::25/128"]`,
			`mode = "rfc7489"`,
			`public_suffix_list = ""`,
			`on_dns_error = "tempfail"`,
			`mailing_lists = "exempt"`,
			`multiple_authors = "strictest"`,
			`malformed_from = "accept"`,
			`relay_without_received = "spf-none"`,
			`reject_text = "5.7.1 DMARC: see https://example.net/policy?a=1&b=~x (sorry!)"`,
			`quarantine_header = "X-Spam-Flag"`,
		}, "\n"), func(c *Config) {
			c.DMARC = DMARCConfig{
				Enforce: false, Quarantine: "header",
				TrustedForwarders: prefixes("198.51.100.0/24", "2001:db8:f::/48"),
				TrustedRelays:     prefixes("203.0.113.25/32", "2001:db8::25/128"),
				Mode:              "rfc7489", OnDNSError: "tempfail", MailingLists: "exempt",
				MultipleAuthors: "strictest", MalformedFrom: "accept", RelayWithoutReceived: "spf-none",
				RejectText:       "5.7.1 DMARC: see https://example.net/policy?a=1&b=~x (sorry!)",
				QuarantineHeader: "X-Spam-Flag",
			}
		}},
		{"longest reject_text and header name", "[dmarc]\nreject_text = \"" + strings.Repeat("x", 200) + "\"\nquarantine_header = \"" + strings.Repeat("h", 76) + "\"\n", func(c *Config) {
			c.DMARC.RejectText = strings.Repeat("x", 200)
			c.DMARC.QuarantineHeader = strings.Repeat("h", 76)
		}},
		{"odd but valid header name", "[dmarc]\nquarantine_header = \"X-Q!#$%&'*+.^_`|~\"\n", func(c *Config) { c.DMARC.QuarantineHeader = "X-Q!#$%&'*+.^_`|~" }},
		{"relays and forwarders disjoint", "dmarc.trusted_relays = [\"192.0.2.0/25\"]\ndmarc.trusted_forwarders = [\"192.0.2.128/25\", \"2001:db8:1::/48\"]\n", func(c *Config) {
			c.DMARC.TrustedRelays = prefixes("192.0.2.0/25")
			c.DMARC.TrustedForwarders = prefixes("192.0.2.128/25", "2001:db8:1::/48")
		}},
		{"literal strings and multi-line array", "[dns]\nnameservers = [\n  '127.0.0.1', # local\n  '[::1]:53',\n]\n", func(c *Config) {
			c.DNS.Nameservers = []string{"127.0.0.1:53", "[::1]:53"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseTest(tt.src)
			if err != nil {
				t.Fatalf("unexpected error:\n%v", err)
			}
			want := testDefaults()
			want.Source = "t.toml"
			if tt.want != nil {
				tt.want(want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string // Error() of each member, in order
		kind error    // errors.Is(err, kind) for the first member
	}{
		// TOML syntax.
		{"syntax error", "listen = \"inet:127.0.0.1:8891\"\n[log]\nlevel = \n", []string{
			`t.toml:3: invalid TOML: expected value but found '\n' instead`,
		}, ErrSyntax},
		{"duplicate key", "[log]\nlevel = \"info\"\nlevel = \"debug\"\n", []string{
			`t.toml:3: invalid TOML: Key 'log.level' has already been defined.`,
		}, ErrSyntax},
		{"NUL byte", "\x00listen = 1", []string{
			`t.toml:1: invalid TOML: files cannot contain NULL bytes; probably using UTF-16; TOML files must be UTF-8`,
		}, ErrSyntax},

		// Unknown keys.
		{"unknown top-level key", "listen = \"inet:127.0.0.1:1\"\nlisten_address = \"x\"\n", []string{
			`t.toml:2: unknown key "listen_address"`,
		}, ErrUnknownKey},
		{"typo top level", `authservid = "x"`, []string{
			`t.toml:1: unknown key "authservid" (did you mean "authserv_id"?)`,
		}, ErrUnknownKey},
		{"unknown key in table", "[dns]\ntimeout = \"1s\"\nnameserver = [\"127.0.0.1\"]\n", []string{
			`t.toml:3: unknown key "dns.nameserver" (did you mean "dns.nameservers"?)`,
		}, ErrUnknownKey},
		{"dash for underscore", "[verify]\nspf-helo = true\n", []string{
			`t.toml:2: unknown key "verify.spf-helo" (did you mean "verify.spf_helo"?)`,
		}, ErrUnknownKey},
		{"capitalised key", "[log]\nLevel = \"info\"\n", []string{
			`t.toml:2: unknown key "log.Level" (did you mean "log.level"?)`,
		}, ErrUnknownKey},
		{"key in wrong table", "[log]\nlevel = \"info\"\nlisten = \"inet:127.0.0.1:1\"\n", []string{
			`t.toml:3: unknown key "log.listen" ("listen" is a known key; is it in the wrong table?)`,
		}, ErrUnknownKey},
		{"key before its table", "timeout = \"5s\"\n[dns]\n", []string{
			`t.toml:1: unknown key "timeout" ("dns.timeout" is a known key; is it in the wrong table?)`,
		}, ErrUnknownKey},
		{"unknown table", "[arc]\nsign = true\n", []string{
			`t.toml:1: unknown table "arc"`,
		}, ErrUnknownKey},
		{"unknown array of tables", "[[sealing]]\ndomain = \"example.com\"\n", []string{
			`t.toml:1: unknown table "sealing"`,
		}, ErrUnknownKey},
		{"unknown nested table", "[dns.cache]\nsize = 1\n", []string{
			`t.toml:1: unknown table "dns.cache"`,
		}, ErrUnknownKey},
		{"quoted unknown key", "[log]\n\"my key\" = 1\n", []string{
			`t.toml:2: unknown key "log.\"my key\""`,
		}, ErrUnknownKey},
		{"unknown key in inline table", "dns = { timeout = \"1s\",\n  retries = 3 }\n", []string{
			`t.toml:2: unknown key "dns.retries"`,
		}, ErrUnknownKey},

		// Wrong types.
		{"string as integer", "[verify]\nmax_signatures = \"5\"\n", []string{
			`t.toml:2: verify.max_signatures: expected an integer, got string "5"`,
		}, ErrType},
		{"integer duration", "[dns]\ntimeout = 5\n", []string{
			`t.toml:2: dns.timeout: expected a duration string such as "5s" or "2m30s", got integer 5`,
		}, ErrType},
		{"integer socket mode", "listen = \"unix:/s\"\nsocket_mode = 0o660\n", []string{
			`t.toml:2: socket_mode: expected an octal string such as "0660", got integer 432`,
		}, ErrType},
		{"float", "[verify]\nmin_rsa_bits = 2048.0\n", []string{
			`t.toml:2: verify.min_rsa_bits: expected an integer, got float 2048`,
		}, ErrType},
		{"string bool", "[verify]\nspf_helo = \"yes\"\n", []string{
			`t.toml:2: verify.spf_helo: expected true or false, got string "yes"`,
		}, ErrType},
		{"date", "listen = 2024-01-02T03:04:05Z\n", []string{
			`t.toml:1: listen: expected a string, got a date/time`,
		}, ErrType},
		{"section as value", "log = \"debug\"\n", []string{
			`t.toml:1: log: expected a table ([log]), got string "debug"`,
		}, ErrType},
		{"section as array of tables", "[[verify]]\nspf_helo = true\n", []string{
			`t.toml:1: verify: expected a table ([verify]), got an array of tables`,
		}, ErrType},
		{"nameservers as string", "[dns]\nnameservers = \"127.0.0.1\"\n", []string{
			`t.toml:2: dns.nameservers: expected an array of strings, got string "127.0.0.1"`,
		}, ErrType},
		{"table as string", "listen = { a = 1 }\n", []string{
			`t.toml:1: listen: expected a string, got a table`,
		}, ErrType},

		// Bad values: listen.
		{"listen without type", `listen = "127.0.0.1:8891"`, []string{
			`t.toml:1: listen: "127.0.0.1:8891" has no socket type; write "inet:127.0.0.1:8891"`,
		}, ErrValue},
		{"listen bare path", `listen = "/run/a.sock"`, []string{
			`t.toml:1: listen: "/run/a.sock" has no socket type; write "unix:/run/a.sock"`,
		}, ErrValue},
		{"listen sendmail order", `listen = "inet:8891@localhost"`, []string{
			`t.toml:1: listen: "inet:8891@localhost" is Sendmail's PORT@HOST order; write "inet:localhost:8891"`,
		}, ErrValue},
		{"listen inet6", `listen = "inet6:8891@::1"`, []string{
			`t.toml:1: listen: "inet6:8891@::1": write IPv6 addresses as inet:[ADDRESS]:PORT`,
		}, ErrValue},
		{"listen unknown type", `listen = "tcp:127.0.0.1:8891"`, []string{
			`t.toml:1: listen: unknown socket type "tcp" in "tcp:127.0.0.1:8891"; use inet:HOST:PORT or unix:/PATH`,
		}, ErrValue},
		{"listen unbracketed IPv6", `listen = "inet:::1:8891"`, []string{
			`t.toml:1: listen: "inet:::1:8891": put IPv6 addresses in brackets, as in inet:[::1]:8891`,
		}, ErrValue},
		{"listen no port", `listen = "inet:127.0.0.1"`, []string{
			`t.toml:1: listen: "inet:127.0.0.1": missing :PORT; write inet:HOST:PORT`,
		}, ErrValue},
		{"listen empty port", `listen = "inet:127.0.0.1:"`, []string{
			`t.toml:1: listen: "inet:127.0.0.1:": missing port`,
		}, ErrValue},
		{"listen port zero", `listen = "inet:127.0.0.1:0"`, []string{
			`t.toml:1: listen: "inet:127.0.0.1:0": port 0 is out of range 1..65535`,
		}, ErrValue},
		{"listen port too big", `listen = "inet:[::1]:65536"`, []string{
			`t.toml:1: listen: "inet:[::1]:65536": port 65536 is out of range 1..65535`,
		}, ErrValue},
		{"listen port name", `listen = "inet:localhost:milter"`, []string{
			`t.toml:1: listen: "inet:localhost:milter": port "milter" is not a number`,
		}, ErrValue},
		{"metrics no host", "[metrics]\nlisten = \":9891\"\n", []string{
			`t.toml:2: metrics.listen: ":9891" has no host; write 127.0.0.1:9891 (or 0.0.0.0:9891 to listen on every address)`,
		}, ErrValue},
		{"metrics no port", "[metrics]\nlisten = \"127.0.0.1\"\n", []string{
			`t.toml:2: metrics.listen: "127.0.0.1" is not HOST:PORT (IPv6 as [ADDRESS]:PORT), e.g. "127.0.0.1:9891"`,
		}, ErrValue},
		{"metrics milter syntax", "[metrics]\nlisten = \"inet:127.0.0.1:9891\"\n", []string{
			`t.toml:2: metrics.listen: "inet:127.0.0.1:9891": write HOST:PORT, e.g. "127.0.0.1:9891"`,
		}, ErrValue},
		{"metrics URL", "[metrics]\nlisten = \"http://127.0.0.1:9891/metrics\"\n", []string{
			`t.toml:2: metrics.listen: "http://127.0.0.1:9891/metrics": write HOST:PORT, e.g. "127.0.0.1:9891"`,
		}, ErrValue},
		{"metrics host name", "[metrics]\nlisten = \"mx.example:9891\"\n", []string{
			`t.toml:2: metrics.listen: "mx.example:9891": "mx.example" is not an IP address or "localhost"`,
		}, ErrValue},
		{"metrics port zero", "[metrics]\nlisten = \"127.0.0.1:0\"\n", []string{
			`t.toml:2: metrics.listen: "127.0.0.1:0": port "0" is not a number from 1 to 65535`,
		}, ErrValue},
		{"metrics port too big", "[metrics]\nlisten = \"127.0.0.1:65536\"\n", []string{
			`t.toml:2: metrics.listen: "127.0.0.1:65536": port "65536" is not a number from 1 to 65535`,
		}, ErrValue},
		{"metrics port name", "[metrics]\nlisten = \"127.0.0.1:http\"\n", []string{
			`t.toml:2: metrics.listen: "127.0.0.1:http": port "http" is not a number from 1 to 65535`,
		}, ErrValue},
		{"metrics IPv4 in brackets", "[metrics]\nlisten = \"[127.0.0.1]:9891\"\n", []string{
			`t.toml:2: metrics.listen: "[127.0.0.1]:9891": "127.0.0.1" is not an IPv6 address; write IPv4 without brackets`,
		}, ErrValue},
		{"metrics IPv6 zone", "[metrics]\nlisten = \"[fe80::1%eth0]:9891\"\n", []string{
			`t.toml:2: metrics.listen: "[fe80::1%eth0]:9891": zoned IPv6 addresses are not supported`,
		}, ErrValue},
		{"metrics not a string", "[metrics]\nlisten = 9891\n", []string{
			`t.toml:2: metrics.listen: expected a string, got integer 9891`,
		}, ErrType},
		{"metrics unknown key", "[metrics]\nport = 9891\n", []string{
			`t.toml:2: unknown key "metrics.port"`,
		}, ErrUnknownKey},
		{"listen empty host", `listen = "inet::8891"`, []string{
			`t.toml:1: listen: "inet::8891": missing host; use 127.0.0.1, or 0.0.0.0 or [::] to listen on all addresses`,
		}, ErrValue},
		{"listen bad IPv4", `listen = "inet:127.0.0.256:8891"`, []string{
			`t.toml:1: listen: "inet:127.0.0.256:8891": "127.0.0.256" is not an IPv4 address`,
		}, ErrValue},
		{"listen bad IPv6", `listen = "inet:[127.0.0.1]:8891"`, []string{
			`t.toml:1: listen: "inet:[127.0.0.1]:8891": "127.0.0.1" is not an IPv6 address`,
		}, ErrValue},
		{"listen unclosed bracket", `listen = "inet:[::1:8891"`, []string{
			`t.toml:1: listen: "inet:[::1:8891": missing ']' after the IPv6 address`,
		}, ErrValue},
		{"listen bad host name", `listen = "inet:my host:8891"`, []string{
			`t.toml:1: listen: "inet:my host:8891": host "my host" is not a host name: it contains a space`,
		}, ErrValue},
		{"listen relative socket", `listen = "unix:authmilter.sock"`, []string{
			`t.toml:1: listen: socket path "authmilter.sock" is not absolute`,
		}, ErrValue},
		{"listen empty socket", `listen = "unix:"`, []string{
			`t.toml:1: listen: missing socket path after unix:`,
		}, ErrValue},
		{"listen socket directory", `listen = "unix:/run/"`, []string{
			`t.toml:1: listen: socket path "/run/" names a directory`,
		}, ErrValue},
		{"listen socket path too long", `listen = "unix:/` + strings.Repeat("a", 200) + `"`, []string{
			`t.toml:1: listen: socket path is 201 bytes, longer than the ` + strconv.Itoa(maxSocketPath()) + ` the system allows`,
		}, ErrValue},

		// Bad values: socket_mode.
		{"socket mode not octal", "listen = \"unix:/s\"\nsocket_mode = \"0690\"\n", []string{
			`t.toml:2: socket_mode: "0690" is not an octal mode such as "0660"`,
		}, ErrValue},
		{"socket mode sticky", "listen = \"unix:/s\"\nsocket_mode = \"1777\"\n", []string{
			`t.toml:2: socket_mode: "1777" has bits beyond the permissions 0777`,
		}, ErrValue},
		{"socket mode empty", "listen = \"unix:/s\"\nsocket_mode = \"\"\n", []string{
			`t.toml:2: socket_mode: "" is not an octal mode such as "0660"`,
		}, ErrValue},
		{"socket mode with inet", "socket_mode = \"0660\"\n", []string{
			`t.toml:1: socket_mode: only applies to unix: listen addresses, but listen is "inet:127.0.0.1:8891"`,
		}, ErrValue},

		// Bad values: authserv_id.
		{"authserv_id semicolon", `authserv_id = "mx.example.net; spf=pass"`, []string{
			`t.toml:1: authserv_id: "mx.example.net; spf=pass" is not a host name: it contains ';'`,
		}, ErrValue},
		{"authserv_id space", `authserv_id = "mx example"`, []string{
			`t.toml:1: authserv_id: "mx example" is not a host name: it contains a space`,
		}, ErrValue},
		{"authserv_id CRLF", `authserv_id = "mx\r\nX-Injected: 1"`, []string{
			`t.toml:1: authserv_id: "mx\r\nX-Injected: 1" is not a host name: it contains a line break`,
		}, ErrValue},
		{"authserv_id empty", `authserv_id = ""`, []string{
			`t.toml:1: authserv_id: must not be empty`,
		}, ErrValue},
		{"authserv_id non-ASCII", `authserv_id = "mx.bücher.example"`, []string{
			`t.toml:1: authserv_id: "mx.bücher.example" is not a host name: write non-ASCII names as A-labels (xn--...)`,
		}, ErrValue},
		{"authserv_id empty label", `authserv_id = "mx..example"`, []string{
			`t.toml:1: authserv_id: "mx..example" is not a host name: empty label`,
		}, ErrValue},
		{"authserv_id trailing dot", `authserv_id = "mx.example."`, []string{
			`t.toml:1: authserv_id: "mx.example." is not a host name: empty label`,
		}, ErrValue},
		{"authserv_id hyphen", `authserv_id = "-mx.example"`, []string{
			`t.toml:1: authserv_id: "-mx.example" is not a host name: label "-mx" starts or ends with '-'`,
		}, ErrValue},
		{"authserv_id quote", `authserv_id = "mx\"x"`, []string{
			`t.toml:1: authserv_id: "mx\"x" is not a host name: "\"" is not allowed`,
		}, ErrValue},
		{"authserv_id control", `authserv_id = "mx\u0001"`, []string{
			`t.toml:1: authserv_id: "mx\x01" is not a host name: it contains a control character`,
		}, ErrValue},
		{"authserv_id long label", `authserv_id = "` + strings.Repeat("a", 64) + `.example"`, []string{
			`t.toml:1: authserv_id: "` + strings.Repeat("a", 64) + `.example" is not a host name: label longer than 63 bytes`,
		}, ErrValue},
		{"authserv_id too long", `authserv_id = "` + strings.Repeat("a.", 127) + `"`, []string{
			`t.toml:1: authserv_id: is 254 bytes, longer than the 253 a host name may have`,
		}, ErrValue},

		// Bad values: enums, ranges, durations.
		{"log level", "[log]\nlevel = \"verbose\"\n", []string{
			`t.toml:2: log.level: "verbose" is not one of "debug", "info", "warn" or "error"`,
		}, ErrValue},
		{"log format", "[log]\nformat = \"text\"\n", []string{
			`t.toml:2: log.format: "text" is not one of "console" or "json"`,
		}, ErrValue},
		{"on_dns_error", "[verify]\non_dns_error = \"reject\"\n", []string{
			`t.toml:2: verify.on_dns_error: "reject" is not one of "accept" or "tempfail"`,
		}, ErrValue},
		{"max_signatures zero", "[verify]\nmax_signatures = 0\n", []string{
			`t.toml:2: verify.max_signatures: 0 is out of range 1..50`,
		}, ErrValue},
		{"max_signatures big", "[verify]\nmax_signatures = 51\n", []string{
			`t.toml:2: verify.max_signatures: 51 is out of range 1..50`,
		}, ErrValue},
		{"min_rsa_bits low", "[verify]\nmin_rsa_bits = 512\n", []string{
			`t.toml:2: verify.min_rsa_bits: 512 is out of range 1024..4096`,
		}, ErrValue},
		{"min_rsa_bits high", "[verify]\nmin_rsa_bits = 8192\n", []string{
			`t.toml:2: verify.min_rsa_bits: 8192 is out of range 1024..4096`,
		}, ErrValue},
		{"max_header_bytes low", "[verify]\nmax_header_bytes = 8191\n", []string{
			`t.toml:2: verify.max_header_bytes: 8191 is out of range 8192..16777216`,
		}, ErrValue},
		{"huge integer", "[verify]\nmax_header_bytes = 9223372036854775807\n", []string{
			`t.toml:2: verify.max_header_bytes: 9223372036854775807 is out of range 8192..16777216`,
		}, ErrValue},
		{"cache_size negative", "[dns]\ncache_size = -1\n", []string{
			`t.toml:2: dns.cache_size: -1 is out of range 0..1000000`,
		}, ErrValue},
		{"dns timeout zero", "[dns]\ntimeout = \"0s\"\n", []string{
			`t.toml:2: dns.timeout: must be more than 0, got "0s"`,
		}, ErrValue},
		{"dns timeout too long", "[dns]\ntimeout = \"61s\"\n", []string{
			`t.toml:2: dns.timeout: must be at most 1m0s, got "61s"`,
		}, ErrValue},
		{"duration without unit", "[dns]\ntimeout = \"5\"\n", []string{
			`t.toml:2: dns.timeout: "5" is not a duration such as "5s" or "2m30s"`,
		}, ErrValue},
		{"duration days", "[milter]\nshutdown_timeout = \"1d\"\n", []string{
			`t.toml:2: milter.shutdown_timeout: "1d" is not a duration such as "5s" or "2m30s"`,
		}, ErrValue},
		{"negative duration", "[milter]\nshutdown_timeout = \"-1s\"\n", []string{
			`t.toml:2: milter.shutdown_timeout: must not be negative, got "-1s"`,
		}, ErrValue},
		{"shutdown too long", "[milter]\nshutdown_timeout = \"11m\"\n", []string{
			`t.toml:2: milter.shutdown_timeout: must be at most 10m0s, got "11m"`,
		}, ErrValue},
		{"io_timeout too short", "[milter]\nio_timeout = \"500ms\"\n", []string{
			`t.toml:2: milter.io_timeout: must be at least 1s, got "500ms"`,
		}, ErrValue},

		// Bad values: nameservers, each element on its own line.
		{"nameserver by name", "[dns]\nnameservers = [\n  \"127.0.0.1\",\n  \"dns.example\",\n]\n", []string{
			`t.toml:4: dns.nameservers[1]: "dns.example" is not an IP address; nameservers must be given by address`,
		}, ErrValue},
		{"nameserver name with port", "[dns]\nnameservers = [\"ns:53\"]\n", []string{
			`t.toml:2: dns.nameservers[0]: "ns:53": "ns" is not an IP address; nameservers must be given by address`,
		}, ErrValue},
		{"nameserver bad port", "[dns]\nnameservers = [\"127.0.0.1:0\", \"[::1]:x\", \"[::1]\"]\n", []string{
			`t.toml:2: dns.nameservers[0]: "127.0.0.1:0": port 0 is out of range 1..65535`,
			`t.toml:2: dns.nameservers[1]: "[::1]:x": port "x" is not a number`,
		}, ErrValue},
		{"nameserver brackets", "[dns]\nnameservers = [\"[127.0.0.1]:53\", \"[::1\", \"[::1]53\"]\n", []string{
			`t.toml:2: dns.nameservers[0]: "[127.0.0.1]:53": "127.0.0.1" is not an IPv6 address`,
			`t.toml:2: dns.nameservers[1]: "[::1": missing ']'`,
			`t.toml:2: dns.nameservers[2]: "[::1]53": expected :PORT after ']'`,
		}, ErrValue},
		{"nameserver not a string", "[dns]\nnameservers = [\n\"127.0.0.1\",\n53,\n]\n", []string{
			`t.toml:4: dns.nameservers[1]: expected a string, got integer 53`,
		}, ErrType},

		// Bad values: network lists, each element on its own line.
		{"internal network host bits", "internal_networks = [\"192.0.2.1/24\", \"2001:db8::1/32\"]\n", []string{
			`t.toml:1: internal_networks[0]: "192.0.2.1/24" has host bits set; did you mean "192.0.2.0/24"?`,
			`t.toml:1: internal_networks[1]: "2001:db8::1/32" has host bits set; did you mean "2001:db8::/32"?`,
		}, ErrValue},
		{"internal network not an address", "internal_networks = [\n  \"10.0.0.0/8\",\n  \"lan.example\",\n  \"10.0.0.0/8/8\",\n  \"\",\n]\n", []string{
			`t.toml:3: internal_networks[1]: "lan.example" is not an IP address or CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32"`,
			`t.toml:4: internal_networks[2]: "10.0.0.0/8/8": prefix length "8/8" is not a number`,
			`t.toml:5: internal_networks[3]: "" is not an IP address or CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32"`,
		}, ErrValue},
		{"internal network prefix length", "internal_networks = [\"10.0.0.0/33\", \"::/129\", \"10.0.0.0/\", \"10.0.0.0/+8\", \"10.0.0.0/-1\", \"10.0.0.0/ 8\"]\n", []string{
			`t.toml:1: internal_networks[0]: "10.0.0.0/33": prefix length 33 is out of range 1..32`,
			`t.toml:1: internal_networks[1]: "::/129": prefix length 129 is out of range 1..128`,
			`t.toml:1: internal_networks[2]: "10.0.0.0/": prefix length "" is not a number`,
			`t.toml:1: internal_networks[3]: "10.0.0.0/+8": prefix length "+8" is not a number`,
			`t.toml:1: internal_networks[4]: "10.0.0.0/-1": prefix length "-1" is not a number`,
			`t.toml:1: internal_networks[5]: "10.0.0.0/ 8": prefix length " 8" is not a number`,
		}, ErrValue},
		{"internal network everything", "internal_networks = [\"0.0.0.0/0\", \"::/0\"]\n", []string{
			`t.toml:1: internal_networks[0]: "0.0.0.0/0" covers every IPv4 address; list your networks instead`,
			`t.toml:1: internal_networks[1]: "::/0" covers every IPv6 address; list your networks instead`,
		}, ErrValue},
		{"internal network zone", "internal_networks = [\"fe80::1%eth0\", \"fe80::%eth0/64\"]\n", []string{
			`t.toml:1: internal_networks[0]: "fe80::1%eth0": zones (%eth0) are not allowed; client addresses have none`,
			`t.toml:1: internal_networks[1]: "fe80::%eth0/64": zones (%eth0) are not allowed; client addresses have none`,
		}, ErrValue},
		{"internal network IPv4-mapped", "internal_networks = [\"::ffff:192.0.2.1\", \"::ffff:192.0.2.0/120\", \"::ffff:0.0.0.0/80\"]\n", []string{
			`t.toml:1: internal_networks[0]: "::ffff:192.0.2.1" is an IPv4-mapped IPv6 address, which never matches a client; write "192.0.2.1/32"`,
			`t.toml:1: internal_networks[1]: "::ffff:192.0.2.0/120" is an IPv4-mapped IPv6 address, which never matches a client; write "192.0.2.0/24"`,
			`t.toml:1: internal_networks[2]: "::ffff:0.0.0.0/80" has host bits set; did you mean "::/80"?`,
		}, ErrValue},
		{"internal networks as string", "internal_networks = \"127.0.0.0/8\"\n", []string{
			`t.toml:1: internal_networks: expected an array of strings, got string "127.0.0.0/8"`,
		}, ErrType},
		{"internal network not a string", "internal_networks = [\"127.0.0.0/8\", 10]\n", []string{
			`t.toml:1: internal_networks[1]: expected a string, got integer 10`,
		}, ErrType},
		{"internal networks in dmarc table", "[dmarc]\ninternal_networks = []\n", []string{
			`t.toml:2: unknown key "dmarc.internal_networks" ("internal_networks" is a known key; is it in the wrong table?)`,
		}, ErrUnknownKey},
		{"trusted forwarder host bits", "[dmarc]\ntrusted_forwarders = [\"198.51.100.7/24\"]\n", []string{
			`t.toml:2: dmarc.trusted_forwarders[0]: "198.51.100.7/24" has host bits set; did you mean "198.51.100.0/24"?`,
		}, ErrValue},
		{"trusted relay bad", "[dmarc]\ntrusted_relays = [\"mx1.example.net\", \"::/0\"]\n", []string{
			`t.toml:2: dmarc.trusted_relays[0]: "mx1.example.net" is not an IP address or CIDR prefix such as "192.0.2.0/24" or "2001:db8::/32"`,
			`t.toml:2: dmarc.trusted_relays[1]: "::/0" covers every IPv6 address; list your networks instead`,
		}, ErrValue},

		// Cross-key: relay and forwarder at once, reported on the later line.
		{"relay also forwarder", "[dmarc]\ntrusted_relays = [\"192.0.2.0/24\"]\ntrusted_forwarders = [\n  \"198.51.100.0/24\",\n  \"192.0.2.0/24\",\n]\n", []string{
			`t.toml:5: dmarc.trusted_forwarders[1]: 192.0.2.0/24 is listed in both trusted_relays and trusted_forwarders (also as dmarc.trusted_relays[0]); a relay's mail is re-judged, a forwarder's is exempt: pick one`,
		}, ErrValue},
		{"forwarder inside relay network, relay later", "[dmarc]\ntrusted_forwarders = [\"2001:db8::25\"]\ntrusted_relays = [\"203.0.113.0/24\", \"2001:db8::/64\"]\n", []string{
			`t.toml:3: dmarc.trusted_relays[1]: 2001:db8::/64 overlaps 2001:db8::25/128 (dmarc.trusted_forwarders[0]), so those addresses are listed in both trusted_relays and trusted_forwarders; a relay's mail is re-judged, a forwarder's is exempt: pick one`,
		}, ErrValue},
		{"relay and forwarder on one line", "dmarc = { trusted_relays = [\"192.0.2.1\"], trusted_forwarders = [\"192.0.2.0/30\", \"192.0.2.1\"] }\n", []string{
			`t.toml:1: dmarc.trusted_forwarders[0]: 192.0.2.0/30 overlaps 192.0.2.1/32 (dmarc.trusted_relays[0]), so those addresses are listed in both trusted_relays and trusted_forwarders; a relay's mail is re-judged, a forwarder's is exempt: pick one`,
			`t.toml:1: dmarc.trusted_forwarders[1]: 192.0.2.1/32 is listed in both trusted_relays and trusted_forwarders (also as dmarc.trusted_relays[0]); a relay's mail is re-judged, a forwarder's is exempt: pick one`,
		}, ErrValue},

		// Bad values: [dmarc].
		{"dmarc enforce string", "[dmarc]\nenforce = \"yes\"\n", []string{
			`t.toml:2: dmarc.enforce: expected true or false, got string "yes"`,
		}, ErrType},
		{"dmarc quarantine", "[dmarc]\nquarantine = \"spam\"\n", []string{
			`t.toml:2: dmarc.quarantine: "spam" is not one of "hold" or "header"`,
		}, ErrValue},
		{"dmarc mode", "[dmarc]\nmode = \"dmarcbis\"\n", []string{
			`t.toml:2: dmarc.mode: "dmarcbis" is not one of "rfc9989" or "rfc7489"`,
		}, ErrValue},
		{"dmarc on_dns_error", "[dmarc]\non_dns_error = \"reject\"\n", []string{
			`t.toml:2: dmarc.on_dns_error: "reject" is not one of "accept" or "tempfail"`,
		}, ErrValue},
		{"dmarc mailing_lists", "[dmarc]\nmailing_lists = true\n", []string{
			`t.toml:2: dmarc.mailing_lists: expected a string, got boolean true`,
		}, ErrType},
		{"dmarc mailing_lists value", "[dmarc]\nmailing_lists = \"accept\"\n", []string{
			`t.toml:2: dmarc.mailing_lists: "accept" is not one of "enforce" or "exempt"`,
		}, ErrValue},
		{"dmarc multiple_authors", "[dmarc]\nmultiple_authors = \"first\"\n", []string{
			`t.toml:2: dmarc.multiple_authors: "first" is not one of "reject" or "strictest"`,
		}, ErrValue},
		{"dmarc malformed_from", "[dmarc]\nmalformed_from = \"tempfail\"\n", []string{
			`t.toml:2: dmarc.malformed_from: "tempfail" is not one of "reject" or "accept"`,
		}, ErrValue},
		{"dmarc relay_without_received", "[dmarc]\nrelay_without_received = \"pass\"\n", []string{
			`t.toml:2: dmarc.relay_without_received: "pass" is not one of "tempfail" or "spf-none"`,
		}, ErrValue},
		{"dmarc relay_without_received underscore", "[dmarc]\nrelay_without_received = \"spf_none\"\n", []string{
			`t.toml:2: dmarc.relay_without_received: "spf_none" is not one of "tempfail" or "spf-none"`,
		}, ErrValue},
		{"reject_text empty", "[dmarc]\nreject_text = \"\"\n", []string{
			`t.toml:2: dmarc.reject_text: must not be empty`,
		}, ErrValue},
		{"reject_text too long", "[dmarc]\nreject_text = \"" + strings.Repeat("x", 201) + "\"\n", []string{
			`t.toml:2: dmarc.reject_text: is 201 bytes, longer than 200`,
		}, ErrValue},
		{"reject_text CRLF", "[dmarc]\nreject_text = \"no\\r\\n250 ok\"\n", []string{
			`t.toml:2: dmarc.reject_text: "no\r\n250 ok" contains a line break`,
		}, ErrValue},
		{"reject_text multi-line string", "[dmarc]\nreject_text = \"\"\"\nline one\nline two\"\"\"\n", []string{
			`t.toml:2: dmarc.reject_text: "line one\nline two" contains a line break`,
		}, ErrValue},
		{"reject_text percent", "[dmarc]\nreject_text = \"100% spoofed\"\n", []string{
			`t.toml:2: dmarc.reject_text: "100% spoofed" contains '%', which the MTA reads as a format character in milter replies`,
		}, ErrValue},
		{"reject_text tab", "[dmarc]\nreject_text = \"no\\tway\"\n", []string{
			`t.toml:2: dmarc.reject_text: "no\tway" contains the control character "\t"; only printable ASCII is allowed`,
		}, ErrValue},
		{"reject_text non-ASCII", "[dmarc]\nreject_text = \"abgelehnt wegen DMARC – Fälschung\"\n", []string{
			`t.toml:2: dmarc.reject_text: "abgelehnt wegen DMARC – Fälschung" contains non-ASCII text; only printable ASCII is allowed`,
		}, ErrValue},
		{"reject_text DEL", "[dmarc]\nreject_text = \"x\\u007f\"\n", []string{
			`t.toml:2: dmarc.reject_text: "x\x7f" contains the control character "\x7f"; only printable ASCII is allowed`,
		}, ErrValue},
		{"quarantine_header with colon", "[dmarc]\nquarantine_header = \"X-Spam: yes\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: "X-Spam: yes" is not a header field name: it contains ':'; write the name only`,
		}, ErrValue},
		{"quarantine_header space", "[dmarc]\nquarantine_header = \"X Spam\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: "X Spam" is not a header field name: it contains a space`,
		}, ErrValue},
		{"quarantine_header empty", "[dmarc]\nquarantine_header = \"\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: must not be empty`,
		}, ErrValue},
		{"quarantine_header non-ASCII", "[dmarc]\nquarantine_header = \"X-Qué\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: "X-Qué" is not a header field name: it contains non-ASCII text`,
		}, ErrValue},
		{"quarantine_header line break", "[dmarc]\nquarantine_header = \"X-A\\nX-B\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: "X-A\nX-B" is not a header field name: it contains the control character "\n"`,
		}, ErrValue},
		{"quarantine_header too long", "[dmarc]\nquarantine_header = \"" + strings.Repeat("h", 77) + "\"\n", []string{
			`t.toml:2: dmarc.quarantine_header: is 77 bytes, longer than 76`,
		}, ErrValue},
		{"public_suffix_list relative", "[dmarc]\npublic_suffix_list = \"public_suffix_list.dat\"\n", []string{
			`t.toml:2: dmarc.public_suffix_list: path "public_suffix_list.dat" is not absolute`,
		}, ErrValue},
		{"public_suffix_list NUL", "[dmarc]\npublic_suffix_list = \"/x\\u0000\"\n", []string{
			`t.toml:2: dmarc.public_suffix_list: path contains a NUL byte`,
		}, ErrValue},
		{"public_suffix_list array", "[dmarc]\npublic_suffix_list = [\"/a\"]\n", []string{
			`t.toml:2: dmarc.public_suffix_list: expected a string, got an array`,
		}, ErrType},
		{"dmarc typo", "[dmarc]\nenforced = false\nquarantine-header = \"X\"\n", []string{
			`t.toml:2: unknown key "dmarc.enforced" (did you mean "dmarc.enforce"?)`,
			`t.toml:3: unknown key "dmarc.quarantine-header" (did you mean "dmarc.quarantine_header"?)`,
		}, ErrUnknownKey},
		{"dmarc p= as a key", "[dmarc]\np = \"reject\"\n", []string{
			`t.toml:2: unknown key "dmarc.p"`,
		}, ErrUnknownKey},

		// Several errors at once, in file order, of every kind.
		{"many errors", strings.Join([]string{
			`listen = "inet:localhost"`, // 1
			`authserv_id = "a b"`,       // 2
			`bogus = 1`,                 // 3
			`[log]`,                     // 4
			`level = "loud"`,            // 5
			`format = 1`,                // 6
			`[dns]`,                     // 7
			`nameservers = [`,           // 8
			`  "1.2.3.4",`,              // 9
			`  "resolver",`,             // 10
			`]`,                         // 11
			`timeout = "0s"`,            // 12
			`[milter]`,                  // 13
			`io_timeout = 300`,          // 14
			`[verify]`,                  // 15
			`max_signatures = 0`,        // 16
			`min_rsa_bits = 1023`,       // 17
			`spf_helo = 1`,              // 18
			`[extra]`,                   // 19
			`x = 1`,                     // 20
		}, "\n"), []string{
			`t.toml:1: listen: "inet:localhost": missing :PORT; write inet:HOST:PORT`,
			`t.toml:2: authserv_id: "a b" is not a host name: it contains a space`,
			`t.toml:3: unknown key "bogus"`,
			`t.toml:5: log.level: "loud" is not one of "debug", "info", "warn" or "error"`,
			`t.toml:6: log.format: expected a string, got integer 1`,
			`t.toml:10: dns.nameservers[1]: "resolver" is not an IP address; nameservers must be given by address`,
			`t.toml:12: dns.timeout: must be more than 0, got "0s"`,
			`t.toml:14: milter.io_timeout: expected a duration string such as "5s" or "2m30s", got integer 300`,
			`t.toml:16: verify.max_signatures: 0 is out of range 1..50`,
			`t.toml:17: verify.min_rsa_bits: 1023 is out of range 1024..4096`,
			`t.toml:18: verify.spf_helo: expected true or false, got integer 1`,
			`t.toml:19: unknown table "extra"`,
		}, ErrValue},
		{"tables out of order", "[verify]\nmax_signatures = 99\n[log]\nlevel = \"x\"\n[dns]\ncache_size = -5\n", []string{
			`t.toml:2: verify.max_signatures: 99 is out of range 1..50`,
			`t.toml:4: log.level: "x" is not one of "debug", "info", "warn" or "error"`,
			`t.toml:6: dns.cache_size: -5 is out of range 0..1000000`,
		}, ErrValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseTest(tt.src)
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with error: %+v", c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			if !errors.Is(errs[0], tt.kind) {
				t.Errorf("first error %v is not %v", errs[0].Err, tt.kind)
			}
			if err.Error() != strings.Join(tt.want, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	if err := os.WriteFile(good, []byte("authserv_id = \"mx.example.com\"\n[log]\nformat = \"json\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("authserv_id = \"mx.example.com\"\n\n[log]\nformat = \"xml\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("good file", func(t *testing.T) {
		t.Parallel()
		c, err := Load(good)
		if err != nil {
			t.Fatal(err)
		}
		if c.Source != good || c.Log.Format != "json" || c.AuthservID != "mx.example.com" || c.Log.Level != "info" {
			t.Errorf("Load = %+v", c)
		}
	})
	t.Run("bad file names itself", func(t *testing.T) {
		t.Parallel()
		_, err := Load(bad)
		want := bad + `:4: log.format: "xml" is not one of "console" or "json"`
		if err == nil || err.Error() != want {
			t.Errorf("Load err = %v, want %s", err, want)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		missing := filepath.Join(dir, "missing.toml")
		_, err := Load(missing)
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrRead) {
			t.Errorf("Load(missing) = %v; want fs.ErrNotExist and ErrRead", err)
		}
		if want := missing + ": cannot read: no such file or directory"; err == nil || err.Error() != want {
			t.Errorf("Load(missing) = %v, want %s", err, want)
		}
	})
	t.Run("directory", func(t *testing.T) {
		t.Parallel()
		_, err := Load(dir)
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Line != 0 || !errors.Is(err, ErrRead) {
			t.Errorf("Load(dir) = %v", err)
		}
	})
	t.Run("no file", func(t *testing.T) {
		t.Parallel()
		c, err := Load("")
		if hostnameAuthservID() == "" {
			if err == nil {
				t.Error("Load(\"\") accepted an empty authserv_id")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Load(\"\") = %+v, want Default() %+v", c, Default())
		}
	})
}

func TestParseTooLarge(t *testing.T) {
	t.Parallel()
	src := strings.Repeat("# padding\n", MaxFileSize/10+1)
	_, err := parseTest(src)
	want := "t.toml: larger than 1048576 bytes; is this a configuration file?"
	if err == nil || err.Error() != want || !errors.Is(err, ErrRead) {
		t.Errorf("err = %v, want %s", err, want)
	}
	// Exactly the limit is fine.
	if _, err := parseTest(src[:MaxFileSize-1] + "\n"); err != nil {
		t.Errorf("file of MaxFileSize bytes: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	t.Parallel()
	_, err := Parse("r", failingReader{})
	if err == nil || err.Error() != "r: cannot read: disk on fire" || !errors.Is(err, ErrRead) {
		t.Errorf("err = %v", err)
	}
}

// TestErrorKinds checks that errors.Is sees every member of Errors.
func TestErrorKinds(t *testing.T) {
	t.Parallel()
	_, err := parseTest("x = 1\n[log]\nlevel = 1\nformat = \"x\"\n")
	for _, kind := range []error{ErrUnknownKey, ErrType, ErrValue} {
		if !errors.Is(err, kind) {
			t.Errorf("errors.Is(%v, %v) = false", err, kind)
		}
	}
	for _, kind := range []error{ErrSyntax, ErrRead} {
		if errors.Is(err, kind) {
			t.Errorf("errors.Is(%v, %v) = true", err, kind)
		}
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 || e.File != "t.toml" || e.Msg != `unknown key "x"` {
		t.Errorf("errors.As *Error = %+v", e)
	}
}

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"file and line", &Error{File: "a.toml", Line: 3, Msg: "bad"}, "a.toml:3: bad"},
		{"whole file", &Error{File: "a.toml", Msg: "bad"}, "a.toml: bad"},
		{"line only", &Error{Line: 7, Msg: "bad"}, "line 7: bad"},
		{"message only", &Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	es := Errors{tests[0].err, tests[1].err}
	if got := es.Error(); got != "a.toml:3: bad\na.toml: bad" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

// TestWholeFileErrorLast checks that errors without a line (here the
// unusable host-name default) come after those with one.
func TestWholeFileErrorLast(t *testing.T) {
	t.Parallel()
	defaults := testDefaults()
	defaults.AuthservID = ""
	_, err := parse("t.toml", strings.NewReader("[log]\nlevel = \"x\"\n"), defaults)
	want := "t.toml:2: log.level: \"x\" is not one of \"debug\", \"info\", \"warn\" or \"error\"\n" +
		"t.toml: authserv_id: not set, and the host name cannot be used as one; set authserv_id to this host's name"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	// Setting it in the file fixes that.
	if _, err := parse("t.toml", strings.NewReader(`authserv_id = "mx.example"`), defaults); err != nil {
		t.Error(err)
	}
}

func TestListenAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		listen, network, address string
	}{
		{"inet:127.0.0.1:8891", "tcp", "127.0.0.1:8891"},
		{"inet:[::1]:8891", "tcp", "[::1]:8891"},
		{"inet:[fe80::1%lo]:25", "tcp", "[fe80::1%lo]:25"},
		{"inet:localhost:10025", "tcp", "localhost:10025"},
		{"unix:/run/a.sock", "unix", "/run/a.sock"},
		{"local:/run/b.sock", "unix", "/run/b.sock"},
		{"tcp:127.0.0.1:1", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			t.Parallel()
			c := &Config{Listen: tt.listen}
			network, address := c.ListenAddr()
			if network != tt.network || address != tt.address {
				t.Errorf("ListenAddr() = %q, %q; want %q, %q", network, address, tt.network, tt.address)
			}
		})
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	var d Duration
	if err := d.UnmarshalText([]byte("2m30s")); err != nil || d.Duration != 150*time.Second {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("soon")); !errors.Is(err, ErrValue) {
		t.Errorf("UnmarshalText(soon) = %v", err)
	}
	if b, err := (Duration{90 * time.Second}).MarshalText(); err != nil || string(b) != "1m30s" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"level", "format", "nameservers", "timeout", "max_signatures"}
	tests := []struct{ key, want string }{
		{"levle", "level"},
		{"LEVEL", "level"},
		{"max-signatures", "max_signatures"},
		{"maxsignature", "max_signatures"},
		{"timeot", "timeout"},
		{"fmt", ""},
		{"lvl", ""},
		{"name", ""},
		{strings.Repeat("x", 100), ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			t.Parallel()
			if got := suggest(tt.key, known); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}
