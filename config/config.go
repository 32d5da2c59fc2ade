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
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
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
	// AuthservID names this host in the Authentication-Results headers
	// it writes, and identifies which existing headers are forged
	// (RFC 8601 Section 2.5 and 5). TOML key "authserv_id"; default the
	// host name (os.Hostname). Must be a host name: ASCII letters,
	// digits, '-', '_' and dots, because it is written as an unquoted
	// token (RFC 8601 Section 2.2).
	AuthservID string

	Log    LogConfig
	DNS    DNSConfig
	Milter MilterConfig
	Verify VerifyConfig

	// Source is the name of the file the configuration was read from,
	// "" for built-in defaults. Not a TOML key.
	Source string
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
func Load(path string) (*Config, error) {
	if path == "" {
		return Parse("", strings.NewReader(""))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{readError(path, err)}
	}
	defer f.Close()
	return Parse(path, f)
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
