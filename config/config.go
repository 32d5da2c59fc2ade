// Package config reads and validates authmilter's TOML configuration file.
//
// The file is TOML (https://toml.io, v1.1 as implemented by
// github.com/BurntSushi/toml). Every key is optional: a missing key keeps
// the default documented on the matching Config field, and running without
// a file at all (Load("")) gives Default(). Parsing is strict, because a
// mail filter that silently ignores a misspelt setting runs with a policy
// its administrator did not choose:
//
//   - unknown keys and tables are errors, with a "did you mean" hint;
//   - values are checked for type, syntax and range;
//   - every problem is reported, not just the first, each as
//     "file:line: key: what is wrong" (see Error and Errors).
//
// Parse works on an io.Reader so that tests and fuzzers need no files.
//
// Adding a setting means adding a field to one of the section structs
// (or a new section struct to Config), and one line to the matching
// field table in schema.go, which decodes and validates it; cross-key
// rules go in the checks table there.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/authmilter/authmilter/keystore"
)

// MaxFileSize is the largest configuration file Parse accepts. Real files
// are a few kilobytes; the limit keeps a wrong path (a mailbox, a log, a
// device) from being read into memory whole.
const MaxFileSize = 1 << 20

// Config is authmilter's configuration. The zero value is not useful; start
// from Default, Parse or Load.
type Config struct {
	// Listen is where the milter accepts connections from the MTA, in
	// Postfix's smtpd_milters syntax: "inet:HOST:PORT" (HOST an IPv4
	// address, a bracketed IPv6 address such as [::1], or a host name),
	// or "unix:/absolute/path". "local:/path", Sendmail's spelling of a
	// Unix socket, is accepted too. Use ListenAddr to get arguments for
	// net.Listen. TOML key "listen"; default "inet:127.0.0.1:8891", the
	// port OpenDKIM uses, so an existing Postfix smtpd_milters line keeps
	// working.
	Listen string
	// SocketMode is the permission of a Unix listening socket: the MTA's
	// user needs write access to connect. TOML key "socket_mode", an
	// octal string such as "0660"; only allowed with a unix: Listen.
	// Default 0660 (owner and group, so put the MTA user in
	// authmilter's group).
	SocketMode os.FileMode
	// SocketGroup is the group a Unix listening socket is given (chown
	// after creating it), so that the MTA's user can be let in by group
	// without joining authmilter's own group. The daemon must be root or
	// a member of the group. TOML key "socket_group", a group name or
	// numeric ID; only allowed with a unix: Listen. Load refuses a group
	// that does not exist. Default "" (the daemon's primary group).
	SocketGroup string
	// User is the account the daemon switches to once its socket is open
	// and the configuration and keys are read, when started as root
	// (setgroups, setgid, setuid, in that order). SIGHUP reloads then run
	// as this user, so the configuration and key files must be readable
	// by it. TOML key "user", a name or numeric ID; Load refuses a name
	// that does not exist. Default "" (keep the starting user; as root,
	// a warning is logged). Under systemd, prefer User= in the unit.
	User string
	// Group is the primary group to switch to with User; the
	// supplementary groups are User's memberships in the group database.
	// TOML key "group"; only allowed with user. Default "" (User's
	// primary group).
	Group string
	// AuthservID names this host in the Authentication-Results headers
	// it writes, and identifies which existing headers are forged
	// (RFC 8601 Section 2.5 and 5). TOML key "authserv_id"; default the
	// host name (os.Hostname). Must be a host name: ASCII letters,
	// digits, '-', '_' and dots, because it is written as an unquoted
	// token (RFC 8601 Section 2.2).
	AuthservID string
	// InternalNetworks are this site's own networks. Mail from a client
	// in them is a submission: it is not judged by SPF or DMARC
	// enforcement (its envelope and From are ours to vouch for), and
	// later it is what DKIM signing applies to. TOML key
	// "internal_networks", an array of IP addresses or CIDR prefixes
	// ("192.0.2.0/24", "2001:db8::/32"); a bare address is a /32 or
	// /128. Prefixes must have no host bits set, since "192.0.2.1/24" is
	// more often a typo than a wish for 192.0.2.0/24; IPv4-mapped IPv6
	// prefixes (::ffff:0:0/96) are refused in favour of the IPv4 form,
	// and /0 is refused because it would make every client internal.
	// Contains on these prefixes needs an unmapped address
	// (netip.Addr.Unmap). Default 127.0.0.0/8 and ::1/128, so mail
	// injected locally (sendmail(1), cron) is not judged as if it came
	// from the Internet.
	InternalNetworks []netip.Prefix

	Log     LogConfig
	DNS     DNSConfig
	Milter  MilterConfig
	Verify  VerifyConfig
	DMARC   DMARCConfig
	Signing SigningConfig
	Metrics MetricsConfig

	// Source is the name of the file the configuration was read from,
	// "" for built-in defaults. Not a TOML key.
	Source string

	// keySet is the key set Load built from Signing; nil from Parse.
	keySet *keystore.Set
	// runAs and socketGID are User, Group and SocketGroup resolved by
	// Load; accountLines are their lines, for Load's messages.
	runAs        *Account
	socketGID    *int
	accountLines accountLines
}

// LogConfig is the [log] section.
type LogConfig struct {
	// Level is the least severe level logged: "debug", "info", "warn" or
	// "error". TOML key "level"; default "info" (one line per message).
	Level string
	// Format is "console" (human-readable) or "json" (one JSON object
	// per line, for log shippers). TOML key "format"; default "console".
	Format string
}

// DNSConfig is the [dns] section.
type DNSConfig struct {
	// Nameservers are the recursive resolvers queried for SPF, DKIM and
	// DMARC records, as "HOST:PORT" with IPv6 addresses in brackets
	// ("127.0.0.1:53", "[::1]:53"). In the file each may be written as
	// HOST, HOST:PORT or [IPv6]:PORT; HOST must be an IP address and the
	// port defaults to 53. Parse stores the normalised HOST:PORT form.
	// TOML key "nameservers"; default empty, meaning those in
	// /etc/resolv.conf.
	Nameservers []string
	// Timeout bounds each DNS query. A query that times out is a
	// temporary error (SPF temperror, RFC 7208 Section 2.6.6; DKIM
	// temperror, RFC 6376 Section 6.1.2). TOML key "timeout"; must be
	// more than 0 and at most 60s; default 5s.
	Timeout Duration
	// CacheSize is the number of DNS answers kept in memory; 0 disables
	// the cache. TOML key "cache_size"; 0..1000000; default 10000.
	CacheSize int
}

// MetricsConfig is the [metrics] section.
type MetricsConfig struct {
	// Listen is the HTTP listener for /metrics (Prometheus text format)
	// and /healthz, as "HOST:PORT" where HOST is an IP address ("[::1]"
	// for IPv6) or "localhost". The endpoints have no authentication and
	// reveal traffic volumes: keep it on loopback or a private network.
	// TOML key "listen"; default "" (no listener). Like the milter's
	// listen, a change takes effect at the next restart.
	Listen string
}

// MilterConfig is the [milter] section.
type MilterConfig struct {
	// ShutdownTimeout is how long messages in flight may take to finish
	// after SIGTERM before their connections are closed (the MTA then
	// applies milter_default_action). TOML key "shutdown_timeout";
	// 0..10m; default 30s.
	ShutdownTimeout Duration
	// IOTimeout bounds each read and write on a connection from the
	// MTA, so a vanished MTA does not hold a goroutine forever. It must
	// be longer than the MTA's own milter timeouts (Postfix:
	// milter_command_timeout 30s, milter_content_timeout 300s) so that
	// the MTA, not authmilter, decides when a slow exchange has failed.
	// TOML key "io_timeout"; 1s..1h; default 10m.
	IOTimeout Duration
}

// VerifyConfig is the [verify] section.
type VerifyConfig struct {
	// OnDNSError is what happens to a message when a DNS lookup fails
	// temporarily: "accept" delivers it with temperror results in
	// Authentication-Results (RFC 7208 Section 2.6.6, RFC 6376 Section
	// 6.1.2), "tempfail" answers "451 4.4.3" so the sender retries later.
	// TOML key "on_dns_error"; default "accept", because a resolver
	// outage should not stop mail.
	OnDNSError string
	// MaxSignatures is how many DKIM signatures are verified per message;
	// further signatures are ignored (RFC 6376 Section 6.1 allows a
	// verifier to limit its work). TOML key "max_signatures"; 1..50;
	// default 5.
	MaxSignatures int
	// MinRSABits is the smallest RSA key accepted for DKIM verification.
	// RFC 8301 Section 3.2: verifiers must accept keys of 1024 to 4096
	// bits, so the range is 1024..4096. TOML key "min_rsa_bits"; default
	// 1024.
	MinRSABits int
	// MaxHeaderBytes bounds the size of a message's header section;
	// messages with bigger headers are rejected with "552 5.3.4". TOML
	// key "max_header_bytes"; 8192..16777216; default 262144. The
	// minimum is well above RFC 5322's 998-octet line limit times a
	// typical header count.
	MaxHeaderBytes int
	// SPFHelo also checks the HELO/EHLO identity with SPF (RFC 7208
	// Section 2.3), which gives a result for bounces (empty MAIL FROM)
	// too. TOML key "spf_helo"; default true.
	SPFHelo bool
}

// DMARCConfig is the [dmarc] section: how DMARC results (RFC 7489,
// RFC 9989) turn into actions on a message. Results are always written to
// Authentication-Results; these settings decide what else happens.
type DMARCConfig struct {
	// Enforce applies the From domain's policy: p=reject rejects with
	// "550 5.7.1", p=quarantine quarantines (see Quarantine). With false
	// authmilter only reports: results go into the headers and nothing
	// is rejected or quarantined, which is how to start on a live system
	// (RFC 7489 Section 6.7 leaves the final disposition to the
	// receiver). TOML key "enforce"; default true.
	Enforce bool
	// Quarantine is what p=quarantine does (RFC 7489 Section 6.3 leaves
	// the treatment to the receiver): "hold" uses the milter quarantine
	// action, which puts the message in the MTA's hold queue for an
	// administrator (Postfix: postsuper -H to release); "header"
	// delivers it with the QuarantineHeader field, for a mail store's
	// filter to file it as spam. TOML key "quarantine"; default "hold".
	Quarantine string
	// TrustedForwarders are relays that re-send other people's mail (a
	// large mailbox provider's or a university's forwarder): forwarding
	// breaks SPF and often DKIM, so DMARC failures of mail from them are
	// written to the headers but not enforced (RFC 7489 Section 6.7,
	// RFC 7960). TOML key "trusted_forwarders", addresses
	// or prefixes as for InternalNetworks; default none. A network
	// cannot also be in TrustedRelays.
	TrustedForwarders []netip.Prefix
	// TrustedRelays are this site's own border MXes in front of this
	// one. Mail from them is judged as if it came from the client they
	// recorded in their Received header field: SPF is checked for that
	// client's address and HELO instead of the relay's. TOML key
	// "trusted_relays", addresses or prefixes as for InternalNetworks;
	// default none. A network cannot also be in TrustedForwarders: a
	// relay's mail is re-judged, a forwarder's is exempt.
	TrustedRelays []netip.Prefix
	// Mode is how the organizational domain, which relaxed alignment
	// and the policy fallback need, is found: "rfc9989" walks the DNS
	// tree for _dmarc records (RFC 9989, DMARCbis), "rfc7489" uses the
	// public suffix list (RFC 7489 Section 3.2). TOML key "mode";
	// default "rfc9989".
	Mode string
	// PublicSuffixList is the path of a public_suffix_list.dat
	// (https://publicsuffix.org/list/) newer than the one built into
	// authmilter; "" uses the built-in list. Mode "rfc7489" finds
	// organizational domains with it; mode "rfc9989" does not need it
	// for policy and uses it only for reports, so it is accepted in both
	// modes. Must be an absolute path to a regular file that can be
	// opened when the configuration is read (Debian's publicsuffix
	// package installs /usr/share/publicsuffix/public_suffix_list.dat);
	// its content is checked by the code that loads it. TOML key
	// "public_suffix_list"; default "".
	PublicSuffixList string
	// OnDNSError is what happens when the DMARC policy lookup fails
	// temporarily: "accept" delivers with dmarc=temperror in
	// Authentication-Results (RFC 7489 Section 6.6.3 applies no policy
	// without a record), "tempfail" answers "451 4.4.3" so the sender
	// retries. TOML key "on_dns_error"; default "accept", because a
	// resolver outage should not stop mail. Independent of
	// VerifyConfig.OnDNSError, which covers SPF and DKIM lookups.
	OnDNSError string
	// MailingLists: "exempt" does not reject or quarantine messages
	// carrying a List-Id field (RFC 2919) that fail DMARC, because list
	// software changes subjects and bodies and so breaks DKIM, and
	// re-sends, which breaks SPF (RFC 7960); "enforce"
	// treats them like any other mail. List-Id is easily forged, so
	// "exempt" lets spoofers through too. TOML key "mailing_lists";
	// default "enforce".
	MailingLists string
	// MultipleAuthors is what happens to a message with several From
	// fields, or one From naming mailboxes in different domains:
	// "reject" answers "550 5.7.1" with the reason; "strictest"
	// evaluates DMARC for every author domain and applies the strictest
	// resulting disposition (RFC 7489 Section 6.6.1). TOML key
	// "multiple_authors"; default "reject", because such messages are
	// rare in legitimate mail and common in spoofing.
	MultipleAuthors string
	// MalformedFrom is what happens to a message without a From field,
	// or whose From has no usable domain (RFC 7489 Section 6.6.1: such
	// messages cannot be evaluated): "reject" answers "550 5.7.1";
	// "accept" delivers with dmarc=permerror in Authentication-Results
	// and enforces nothing. TOML key "malformed_from"; default
	// "reject".
	MalformedFrom string
	// RelayWithoutReceived is what happens to a message from a
	// TrustedRelays address that carries no Received field from it that
	// can be parsed, so the original client is unknown: "tempfail"
	// answers "451 4.7.0" so the relay retries and an operator can look;
	// "spf-none" judges the message as if SPF had given none, so DMARC
	// can still pass through DKIM but never through SPF. Neither passes
	// SPF on the relay's own address. TOML key
	// "relay_without_received"; default "tempfail".
	RelayWithoutReceived string
	// RejectText is the text of a DMARC rejection, after "550 5.7.1 ".
	// Printable ASCII without '%' (the MTA treats a single '%' in a
	// milter reply as a format character and may drop the text, see
	// libmilter's smfi_setreply), at most 200 bytes, so the reply stays one
	// line well inside SMTP's 512-octet reply line limit (RFC 5321
	// Section 4.5.3.1.5). TOML key "reject_text"; default "Message
	// rejected by DMARC policy of the From domain".
	RejectText string
	// QuarantineHeader is the name of the header field added when
	// Quarantine is "header"; its value is the reason. Must be an RFC
	// 5322 field name (Section 3.6.8: printable ASCII except ':'), at
	// most 76 bytes so the field starts on one line. TOML key
	// "quarantine_header"; default "X-Authmilter-Quarantine".
	QuarantineHeader string
}

// SigningConfig is the [signing] section: DKIM signing of outbound mail
// (RFC 6376, RFC 8463). Which keys sign a message is decided by the
// author (From) address, through the [[signing.rule]] tables first and
// then OpenDKIM's SigningTable, if configured; see keystore.Set.Lookup for
// the exact order. Parse checks the syntax of everything here; Load also
// reads every key file and table (keystore.Build), so a missing or
// world-readable key stops the daemon at start, not at the first message.
type SigningConfig struct {
	// Keys are the [[signing.key]] tables: each has a name (used by rules
	// and SigningTable lines), the d= domain ("%" for the From domain, so
	// one key serves many hosted domains), the s= selector, and
	// private_key, the absolute path of a PEM (PKCS #1 or #8, RSA 1024 to
	// 4096 bits or Ed25519) or dkimpy Ed25519 key file that only its owner
	// may read (see AllowGroupReadableKeys). Names must be unique, also
	// across the KeyTable. Default none.
	Keys []SigningKey
	// Rules are the [[signing.rule]] tables: from, a glob matched against
	// the lower-cased author address (path.Match: "*@example.com",
	// "*@*.example.com", "alice@example.com", "*"; '*' does not match '/',
	// and '\' escapes a '*', '?' or '['), and keys, the names of the keys
	// that sign matching mail (several give several signatures, e.g. RSA
	// and Ed25519, RFC 8463 Section 4). The first matching rule wins.
	// Default none.
	Rules []SigningRule
	// SigningTable is an OpenDKIM SigningTable to migrate from:
	// "refile:/path" (patterns with '*', tried in file order) or "/path"
	// (exact addresses and domains, looked up in OpenDKIM's order). Lines
	// are "pattern keyname"; the key name "%" means the key named like the
	// From domain. Consulted after Rules. TOML key "signing_table";
	// default "" (none).
	SigningTable string
	// KeyTable is an OpenDKIM KeyTable: "keyname domain:selector:/path"
	// lines, the domain "%" meaning the From domain. Its keys can be named
	// by Rules and the SigningTable alike. TOML key "key_table"; default
	// "" (none).
	KeyTable string
	// DaemonNames are the MTA's {daemon_name} macro values that mark mail
	// to sign (Postfix: milter_macro_daemon_name, "ORIGINATING" on the
	// submission service by convention). An empty list means the daemon
	// name does not mark mail as outbound. TOML key "daemon_names";
	// default ["ORIGINATING"].
	DaemonNames []string
	// Canonicalization is the c= tag, "header/body", each "simple" or
	// "relaxed" (RFC 6376 Section 3.4). relaxed/relaxed survives the
	// re-folding and whitespace changes of relays best. TOML key
	// "canonicalization"; default "relaxed/relaxed".
	Canonicalization string
	// Profile chooses the header fields signed (h=, RFC 6376 Section
	// 5.4): "default", the fields RFC 6376 Section 5.4.1 recommends, or
	// "minimal", a short list for mail that passes through software
	// rewriting headers; the signer (policy/sign) defines the lists.
	// TOML key "profile"; default "default".
	Profile string
	// Headers, if set, replaces the profile's list of header fields to
	// sign. It must include From (RFC 6376 Section 5.4). TOML key
	// "headers"; default none (use Profile).
	Headers []string
	// Oversign are header fields signed once more than they occur, so
	// that adding another instance breaks the signature (RFC 6376 Section
	// 8.15). TOML key "oversign"; default ["From"].
	Oversign []string
	// Expire, if not 0, adds x= that many seconds after t= (RFC 6376
	// Section 3.5). 0 writes no x=; otherwise at least 1h, because a
	// signature that expires sooner can die in a retry queue. TOML key
	// "expire"; default "0s".
	Expire Duration
	// OnKeyMissing is what happens when a message should be signed (it is
	// outbound, and a rule matches its author) but the matching rule gives
	// no usable key: "tempfail" answers "451 4.7.0" so the sender retries
	// after the configuration is fixed; "accept" sends it unsigned. An
	// outbound message that no rule matches (a user sending with a From of
	// a domain we do not sign for) is sent unsigned, with a log line, as
	// OpenDKIM does. TOML key "on_key_missing"; default "tempfail".
	OnKeyMissing string
	// OnError is what happens when signing fails (a crypto or internal
	// error): "tempfail" answers "451 4.7.0"; "accept" sends the message
	// unsigned. TOML key "on_error"; default "tempfail".
	OnError string
	// AllowGroupReadableKeys accepts key files readable (not writable) by
	// their group, for keys owned by root and readable by authmilter's
	// group. Otherwise key files must be mode 0600 or 0400. TOML key
	// "allow_group_readable_keys"; default false.
	AllowGroupReadableKeys bool
}

// SigningKey is one [[signing.key]] table.
type SigningKey struct {
	// Name, Domain, Selector and PrivateKey are the TOML keys name,
	// domain, selector and private_key; see SigningConfig.Keys.
	Name, Domain, Selector, PrivateKey string
	// Line is the line of the [[signing.key]] header, for messages.
	Line int
}

// SigningRule is one [[signing.rule]] table.
type SigningRule struct {
	// From and Keys are the TOML keys from and keys; see
	// SigningConfig.Rules.
	From string
	Keys []string
	// Line is the line of the [[signing.rule]] header, for messages.
	Line int
}

// configured reports whether anything in [signing] needs keys.
func (s *SigningConfig) configured() bool {
	return len(s.Keys) > 0 || len(s.Rules) > 0 || s.SigningTable != "" || s.KeyTable != ""
}

// KeySpec returns what keystore.Build needs to load the keys of [signing],
// each located at Source:Line.
func (c *Config) KeySpec() keystore.Spec {
	spec := keystore.Spec{
		SigningTable:       c.Signing.SigningTable,
		KeyTable:           c.Signing.KeyTable,
		AllowGroupReadable: c.Signing.AllowGroupReadableKeys,
	}
	for _, k := range c.Signing.Keys {
		spec.Keys = append(spec.Keys, keystore.KeySpec{
			Name: k.Name, Domain: k.Domain, Selector: k.Selector, Path: k.PrivateKey,
			Source: c.Source + ":" + strconv.Itoa(k.Line),
		})
	}
	for _, r := range c.Signing.Rules {
		spec.Rules = append(spec.Rules, keystore.Rule{
			Pattern: r.From, Keys: append([]string(nil), r.Keys...),
			Source: c.Source + ":" + strconv.Itoa(r.Line),
		})
	}
	return spec
}

// KeySet returns the keys Load read for [signing]. It is nil, which
// keystore.Set treats as empty, for a Config from Parse or Default: build
// one with keystore.Build(c.KeySpec()).
func (c *Config) KeySet() *keystore.Set {
	return c.keySet
}

// Duration is a time.Duration written in TOML as a Go duration string
// ("5s", "2m30s", "1h"). Plain integers are refused: "timeout = 5" does not
// say whether it means seconds or milliseconds.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string (time.ParseDuration).
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil {
		return fmt.Errorf("%w: %q is not a duration such as \"5s\" or \"2m30s\"", ErrValue, text)
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}

// Default returns the built-in configuration, as used with no file. Each
// value is documented on its Config field. AuthservID is the host name, or
// "" if the host name cannot be used as an authserv-id; Parse and Load
// report that as an error, so prefer Load("") to Default when running
// without a file.
func Default() *Config {
	return &Config{
		Listen:     "inet:127.0.0.1:8891",
		SocketMode: 0o660,
		AuthservID: hostnameAuthservID(),
		InternalNetworks: []netip.Prefix{
			netip.MustParsePrefix("127.0.0.0/8"),
			netip.MustParsePrefix("::1/128"),
		},
		Log: LogConfig{
			Level:  "info",
			Format: "console",
		},
		DNS: DNSConfig{
			Nameservers: nil,
			Timeout:     Duration{5 * time.Second},
			CacheSize:   10000,
		},
		Milter: MilterConfig{
			ShutdownTimeout: Duration{30 * time.Second},
			IOTimeout:       Duration{10 * time.Minute},
		},
		Verify: VerifyConfig{
			OnDNSError:     "accept",
			MaxSignatures:  5,
			MinRSABits:     1024,
			MaxHeaderBytes: 256 << 10,
			SPFHelo:        true,
		},
		DMARC: DMARCConfig{
			Enforce:              true,
			Quarantine:           "hold",
			TrustedForwarders:    nil,
			TrustedRelays:        nil,
			Mode:                 "rfc9989",
			PublicSuffixList:     "",
			OnDNSError:           "accept",
			MailingLists:         "enforce",
			MultipleAuthors:      "reject",
			MalformedFrom:        "reject",
			RelayWithoutReceived: "tempfail",
			RejectText:           "Message rejected by DMARC policy of the From domain",
			QuarantineHeader:     "X-Authmilter-Quarantine",
		},
		Signing: SigningConfig{
			DaemonNames:      []string{"ORIGINATING"},
			Canonicalization: "relaxed/relaxed",
			Profile:          "default",
			Oversign:         []string{"From"},
			OnKeyMissing:     "tempfail",
			OnError:          "tempfail",
		},
	}
}

// hostnameAuthservID returns the host name if it is a valid authserv-id,
// else "". A trailing root dot is dropped.
func hostnameAuthservID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	h = strings.TrimSuffix(h, ".")
	if checkAuthservID(h) != nil {
		return ""
	}
	return h
}

// Load reads and parses the configuration file at path. With path "", it
// returns the defaults, checked the same way as a file's values. The error,
// if any, is of type Errors; a missing file gives an error for which
// errors.Is(err, fs.ErrNotExist) holds, so a caller with a default path can
// fall back to Load("").
//
// Unlike Parse, Load also reads what [signing] refers to: every key file
// and the OpenDKIM tables (keystore.Build), and refuses the configuration
// if a key is missing, unreadable, readable by others or not a usable key,
// or a table is malformed. These errors carry the file:line of the
// [[signing.key]] or [[signing.rule]], or of the table line, and wrap both
// ErrValue and the keystore sentinel. KeySet returns the keys loaded.
//
// Load also looks up user, group and socket_group in the user and group
// databases, and refuses names that do not exist (ErrValue, at the key's
// line); RunAs and SocketGID return the IDs found.
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse("", strings.NewReader(""))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{readError(path, err)}
	}
	defer f.Close()
	c, err := Parse(path, f)
	if err != nil {
		return nil, err
	}
	var errs Errors
	if err := c.loadKeys(); err != nil {
		if !errors.As(err, &errs) {
			return nil, err
		}
	}
	errs = append(errs, c.lookupAccounts()...)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// loadKeys builds the key set of [signing]. Parse has checked its syntax
// with the same keystore checks, so what remains are problems with files.
func (c *Config) loadKeys() error {
	if !c.Signing.configured() {
		return nil
	}
	set, errs := keystore.Build(c.KeySpec())
	if len(errs) == 0 {
		c.keySet = set
		return nil
	}
	out := make(Errors, 0, len(errs))
	for _, err := range errs {
		e := &Error{File: c.Source, Msg: err.Error(), Err: joinedErr{ErrValue, err}}
		var ke *keystore.Error
		if errors.As(err, &ke) {
			e.File, e.Line, e.Msg = ke.File, ke.Line, ke.Msg
			if e.File == "" {
				e.File = c.Source
			}
		}
		out = append(out, e)
	}
	return out
}

// readError reports a file that cannot be read. The path is already the
// message prefix, so an *fs.PathError contributes only its cause.
func readError(name string, err error) *Error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &Error{File: name, Msg: "cannot read: " + msg, Err: joinedErr{ErrRead, err}}
}

// joinedErr wraps a sentinel and the underlying cause, so that both
// errors.Is(err, ErrRead) and errors.Is(err, fs.ErrNotExist) hold.
type joinedErr struct{ sentinel, cause error }

func (j joinedErr) Error() string   { return j.sentinel.Error() + ": " + j.cause.Error() }
func (j joinedErr) Unwrap() []error { return []error{j.sentinel, j.cause} }

// Parse reads a TOML configuration from r. name is used in error messages
// ("name:line: ...") and stored in Config.Source. Keys missing from the
// input keep their defaults. On error the returned Config is nil and the
// error is of type Errors, holding every problem found (a TOML syntax error
// stops parsing, so it is reported alone).
func Parse(name string, r io.Reader) (*Config, error) {
	return parse(name, r, Default())
}

// parse is Parse with the defaults given, so tests do not depend on the
// host name of the machine running them.
func parse(name string, r io.Reader, c *Config) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, Errors{readError(name, err)}
	}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("larger than %d bytes; is this a configuration file?", MaxFileSize), Err: ErrRead}}
	}
	// The BOM is allowed by neither TOML nor the toml package; editors on
	// Windows add it, and "expected key" on line 1 would be baffling.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))

	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, Errors{syntaxError(name, err)}
	}

	c.Source = name
	d := &decoder{file: name, lines: keyLines(string(data)), allKeys: keyPaths(configFields)}
	decodeTable(d, "", doc, c, configFields)
	for _, check := range checks {
		check(d, c)
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			li, lj := d.errs[i].Line, d.errs[j].Line
			if (li == 0) != (lj == 0) {
				return lj == 0 // whole-file errors last
			}
			return li < lj
		})
		return nil, d.errs
	}
	return c, nil
}

// syntaxError turns the toml package's error into an *Error with the line
// the parser stopped on.
func syntaxError(name string, err error) *Error {
	e := &Error{File: name, Err: ErrSyntax}
	var pe toml.ParseError
	switch v := err.(type) {
	case toml.ParseError:
		pe = v
	case *toml.ParseError:
		pe = *v
	default:
		e.Msg = "invalid TOML: " + err.Error()
		return e
	}
	e.Line = pe.Position.Line
	e.Msg = "invalid TOML: " + pe.Message
	return e
}

// ListenAddr returns the network ("tcp" or "unix") and address for
// net.Listen. For a Listen value that did not pass Parse it returns "", "",
// which net.Listen rejects.
func (c *Config) ListenAddr() (network, address string) {
	network, address, err := parseListen(c.Listen)
	if err != nil {
		return "", ""
	}
	return network, address
}
