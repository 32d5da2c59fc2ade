package config

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/authmilter/authmilter/keystore"
)

// The schema: one field table per section. Each entry names a TOML key and
// how to decode and validate its value into the section's struct; the
// helpers below (stringField, intField, ...) do the type checking and
// report errors with the key's line. A new section is a new struct, a new
// []field table, and one tableField line in configFields.

// configFields is the top level of the file.
var configFields = []field[Config]{
	stringField("listen", func(c *Config) *string { return &c.Listen }, checkListen),
	socketModeField("socket_mode", func(c *Config) *fileMode { return (*fileMode)(&c.SocketMode) }),
	stringField("socket_group", func(c *Config) *string { return &c.SocketGroup }, checkAccountName),
	stringField("user", func(c *Config) *string { return &c.User }, checkAccountName),
	stringField("group", func(c *Config) *string { return &c.Group }, checkAccountName),
	stringField("authserv_id", func(c *Config) *string { return &c.AuthservID }, checkAuthservID),
	prefixListField("internal_networks", func(c *Config) *[]netip.Prefix { return &c.InternalNetworks }),
	tableField("log", func(c *Config) *LogConfig { return &c.Log }, logFields),
	tableField("dns", func(c *Config) *DNSConfig { return &c.DNS }, dnsFields),
	tableField("milter", func(c *Config) *MilterConfig { return &c.Milter }, milterFields),
	tableField("verify", func(c *Config) *VerifyConfig { return &c.Verify }, verifyFields),
	tableField("dmarc", func(c *Config) *DMARCConfig { return &c.DMARC }, dmarcFields),
	tableField("signing", func(c *Config) *SigningConfig { return &c.Signing }, signingFields),
	tableField("metrics", func(c *Config) *MetricsConfig { return &c.Metrics }, metricsFields),
}

var metricsFields = []field[MetricsConfig]{
	stringField("listen", func(c *MetricsConfig) *string { return &c.Listen }, checkMetricsListen),
}

var logFields = []field[LogConfig]{
	enumField("level", func(c *LogConfig) *string { return &c.Level }, "debug", "info", "warn", "error"),
	enumField("format", func(c *LogConfig) *string { return &c.Format }, "console", "json"),
}

var dnsFields = []field[DNSConfig]{
	stringListField("nameservers", func(c *DNSConfig) *[]string { return &c.Nameservers }, parseNameserver),
	durationField("timeout", func(c *DNSConfig) *Duration { return &c.Timeout }, time.Nanosecond, time.Minute),
	intField("cache_size", func(c *DNSConfig) *int { return &c.CacheSize }, 0, 1000000),
}

var milterFields = []field[MilterConfig]{
	durationField("shutdown_timeout", func(c *MilterConfig) *Duration { return &c.ShutdownTimeout }, 0, 10*time.Minute),
	durationField("io_timeout", func(c *MilterConfig) *Duration { return &c.IOTimeout }, time.Second, time.Hour),
}

var verifyFields = []field[VerifyConfig]{
	enumField("on_dns_error", func(c *VerifyConfig) *string { return &c.OnDNSError }, "accept", "tempfail"),
	intField("max_signatures", func(c *VerifyConfig) *int { return &c.MaxSignatures }, 1, 50),
	// RFC 8301 Section 3.2: keys of 1024 to 4096 bits must be verifiable.
	intField("min_rsa_bits", func(c *VerifyConfig) *int { return &c.MinRSABits }, 1024, 4096),
	intField("max_header_bytes", func(c *VerifyConfig) *int { return &c.MaxHeaderBytes }, 8192, 16<<20),
	boolField("spf_helo", func(c *VerifyConfig) *bool { return &c.SPFHelo }),
}

var dmarcFields = []field[DMARCConfig]{
	boolField("enforce", func(c *DMARCConfig) *bool { return &c.Enforce }),
	enumField("quarantine", func(c *DMARCConfig) *string { return &c.Quarantine }, "hold", "header"),
	prefixListField("trusted_forwarders", func(c *DMARCConfig) *[]netip.Prefix { return &c.TrustedForwarders }),
	prefixListField("trusted_relays", func(c *DMARCConfig) *[]netip.Prefix { return &c.TrustedRelays }),
	enumField("mode", func(c *DMARCConfig) *string { return &c.Mode }, "rfc9989", "rfc7489"),
	stringField("public_suffix_list", func(c *DMARCConfig) *string { return &c.PublicSuffixList }, checkSuffixListPath),
	enumField("on_dns_error", func(c *DMARCConfig) *string { return &c.OnDNSError }, "accept", "tempfail"),
	enumField("mailing_lists", func(c *DMARCConfig) *string { return &c.MailingLists }, "enforce", "exempt"),
	enumField("multiple_authors", func(c *DMARCConfig) *string { return &c.MultipleAuthors }, "reject", "strictest"),
	enumField("malformed_from", func(c *DMARCConfig) *string { return &c.MalformedFrom }, "reject", "accept"),
	enumField("relay_without_received", func(c *DMARCConfig) *string { return &c.RelayWithoutReceived }, "tempfail", "spf-none"),
	stringField("reject_text", func(c *DMARCConfig) *string { return &c.RejectText }, checkReplyText),
	stringField("quarantine_header", func(c *DMARCConfig) *string { return &c.QuarantineHeader }, checkFieldName),
}

var signingFields = []field[SigningConfig]{
	tableArrayField("key", func(c *SigningConfig) *[]SigningKey { return &c.Keys }, signingKeyFields,
		[]string{"name", "domain", "selector", "private_key"}, func(k *SigningKey, line int) { k.Line = line }),
	tableArrayField("rule", func(c *SigningConfig) *[]SigningRule { return &c.Rules }, signingRuleFields,
		[]string{"from", "keys"}, func(r *SigningRule, line int) { r.Line = line }),
	stringField("signing_table", func(c *SigningConfig) *string { return &c.SigningTable }, keystore.CheckTablePath),
	stringField("key_table", func(c *SigningConfig) *string { return &c.KeyTable }, keystore.CheckTablePath),
	stringListField("daemon_names", func(c *SigningConfig) *[]string { return &c.DaemonNames }, parseDaemonName),
	stringField("canonicalization", func(c *SigningConfig) *string { return &c.Canonicalization }, checkCanonicalization),
	enumField("profile", func(c *SigningConfig) *string { return &c.Profile }, "default", "minimal"),
	stringListField("headers", func(c *SigningConfig) *[]string { return &c.Headers }, parseFieldName),
	stringListField("oversign", func(c *SigningConfig) *[]string { return &c.Oversign }, parseFieldName),
	expireField("expire", func(c *SigningConfig) *Duration { return &c.Expire }),
	enumField("on_key_missing", func(c *SigningConfig) *string { return &c.OnKeyMissing }, "tempfail", "accept"),
	enumField("on_error", func(c *SigningConfig) *string { return &c.OnError }, "tempfail", "accept"),
	boolField("allow_group_readable_keys", func(c *SigningConfig) *bool { return &c.AllowGroupReadableKeys }),
}

var signingKeyFields = []field[SigningKey]{
	stringField("name", func(k *SigningKey) *string { return &k.Name }, keystore.CheckKeyName),
	stringField("domain", func(k *SigningKey) *string { return &k.Domain }, keystore.CheckDomain),
	stringField("selector", func(k *SigningKey) *string { return &k.Selector }, keystore.CheckSelector),
	stringField("private_key", func(k *SigningKey) *string { return &k.PrivateKey }, keystore.CheckKeyPath),
}

var signingRuleFields = []field[SigningRule]{
	stringField("from", func(r *SigningRule) *string { return &r.From }, keystore.CheckPattern),
	nonEmpty(stringListField("keys", func(r *SigningRule) *[]string { return &r.Keys }, parseKeyName), "must name at least one key"),
}

// nonEmpty refuses an empty array for the list field f, with msg.
func nonEmpty[T any](f field[T], msg string) field[T] {
	decode := f.decode
	f.decode = func(d *decoder, path string, v any, dst *T) {
		if list, ok := v.([]any); ok && len(list) == 0 {
			d.errorf(path, ErrValue, "%s", msg)
			return
		}
		decode(d, path, v, dst)
	}
	return f
}

// checks are rules spanning keys, or about values that may come from the
// defaults rather than the file. They run after decoding, on the merged
// configuration.
var checks = []func(d *decoder, c *Config){
	checkPrivileges,
	// socket_mode is meaningless for TCP; setting it suggests the
	// administrator believes the socket is a Unix one.
	func(d *decoder, c *Config) {
		if line, ok := d.lines["socket_mode"]; ok {
			if network, _, err := parseListen(c.Listen); err == nil && network != "unix" {
				d.add(line, ErrValue, "socket_mode: only applies to unix: listen addresses, but listen is %q", c.Listen)
			}
		}
	},
	// The default authserv_id comes from the host name, which may be
	// unusable (e.g. "localhost.localdomain" is fine, "my host" is not).
	func(d *decoder, c *Config) {
		if c.AuthservID == "" && !d.has("authserv_id") {
			d.add(0, ErrValue, "authserv_id: not set, and the host name cannot be used as one; set authserv_id to this host's name")
		}
	},
	// A trusted relay's mail is judged on the client it recorded, a
	// trusted forwarder's DMARC failures are not enforced: an address in
	// both would get two contradictory treatments, and which one wins
	// would be an accident of the code. Both lists default to empty, so
	// any overlap was written in the file.
	func(d *decoder, c *Config) {
		for i, r := range c.DMARC.TrustedRelays {
			rp := indexPath("dmarc.trusted_relays", i)
			for j, f := range c.DMARC.TrustedForwarders {
				if !r.Overlaps(f) {
					continue
				}
				fp := indexPath("dmarc.trusted_forwarders", j)
				later, this, other, otherPath := fp, f, r, rp
				if d.line(rp) > d.line(fp) {
					later, this, other, otherPath = rp, r, f, fp
				}
				const why = "a relay's mail is re-judged, a forwarder's is exempt: pick one"
				if this == other {
					d.errorf(later, ErrValue, "%v is listed in both trusted_relays and trusted_forwarders (also as %s); %s", this, otherPath, why)
				} else {
					d.errorf(later, ErrValue, "%v overlaps %v (%s), so those addresses are listed in both trusted_relays and trusted_forwarders; %s", this, other, otherPath, why)
				}
			}
		}
	},
	// Key names are unique, and rules name keys that exist. With a
	// KeyTable, rules may name its keys, which only Load reads; Build
	// checks those names then.
	func(d *decoder, c *Config) {
		sc := &c.Signing
		names := map[string]int{}
		for i, k := range sc.Keys {
			if k.Name == "" {
				continue // missing, reported already
			}
			if j, ok := names[k.Name]; ok {
				d.errorf(indexPath("signing.key", i)+".name", ErrValue, "%q is already the name of signing.key[%d]", k.Name, j)
				continue
			}
			names[k.Name] = i
		}
		if sc.KeyTable != "" {
			return
		}
		for i, r := range sc.Rules {
			for j, name := range r.Keys {
				if _, ok := names[name]; !ok {
					d.errorf(indexPath(indexPath("signing.rule", i)+".keys", j), ErrValue, "no [[signing.key]] is named %q", name)
				}
			}
		}
	},
	// Rules name each key once; headers and oversign list each field
	// once; headers, if set, include From (RFC 6376 Section 5.4: "The
	// From header field MUST be signed").
	func(d *decoder, c *Config) {
		sc := &c.Signing
		for i, r := range sc.Rules {
			dupes(d, indexPath("signing.rule", i)+".keys", r.Keys, false)
		}
		dupes(d, "signing.headers", sc.Headers, true)
		dupes(d, "signing.oversign", sc.Oversign, true)
		if d.has("signing.headers") && sc.Headers != nil {
			from := false
			for _, h := range sc.Headers {
				from = from || strings.EqualFold(h, "From")
			}
			if !from {
				d.errorf("signing.headers", ErrValue, "must include \"From\" (RFC 6376 Section 5.4); remove headers to use the profile's list")
			}
		}
	},
}

// dupes reports the second and later occurrences of a value in list.
func dupes(d *decoder, path string, list []string, foldCase bool) {
	seen := map[string]int{}
	for i, v := range list {
		k := v
		if foldCase {
			k = strings.ToLower(v)
		}
		if j, ok := seen[k]; ok {
			d.errorf(indexPath(path, i), ErrValue, "%q is already listed as %s", v, indexPath(path, j))
			continue
		}
		seen[k] = i
	}
}

// decoder collects errors while walking the decoded TOML document.
type decoder struct {
	file    string
	lines   map[string]int // key path -> line, from keyLines
	allKeys []string       // every key path of the schema, for hints
	errs    Errors
}

// has reports whether the key path appears in the file.
func (d *decoder) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// line returns the line of path, or of its closest ancestor that has one
// (keys inside a one-line inline table share its line), or 0.
func (d *decoder) line(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

func (d *decoder) add(line int, kind error, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind})
}

// errorf reports an error about the value at path; the message starts with
// the path so it reads "file:12: dns.timeout: ...".
func (d *decoder) errorf(path string, kind error, format string, args ...any) {
	d.add(d.line(path), kind, "%s: %s", path, fmt.Sprintf(format, args...))
}

// typeError reports a value of the wrong TOML type.
func (d *decoder) typeError(path, want string, v any) {
	d.errorf(path, ErrType, "expected %s, got %s", want, describe(v))
}

// field is one key of a section whose Go struct is T.
type field[T any] struct {
	key    string
	decode func(d *decoder, path string, v any, dst *T)
	// sub lists the keys of a table-valued field, as paths relative to
	// it; nil for other fields.
	sub []string
}

// keyPaths lists every key path of fields, tables before their keys, in
// schema order: "listen", ..., "log", "log.level", ...
func keyPaths[T any](fields []field[T]) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.key)
		for _, s := range f.sub {
			out = append(out, f.key+"."+s)
		}
	}
	return out
}

// decodeTable decodes the TOML table m at path into dst using fields, and
// reports every key of m that fields do not know.
func decodeTable[T any](d *decoder, path string, m map[string]any, dst *T, fields []field[T]) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// File order, so errors within a table come out in reading order.
	sort.Slice(keys, func(i, j int) bool {
		li, lj := d.line(joinPath(path, keys[i])), d.line(joinPath(path, keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		p := joinPath(path, k)
		var f *field[T]
		for j := range fields {
			if fields[j].key == k {
				f = &fields[j]
				break
			}
		}
		if f == nil {
			d.unknownKey(path, k, m[k], fieldKeys(fields))
			continue
		}
		f.decode(d, p, m[k], dst)
	}
}

func fieldKeys[T any](fields []field[T]) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.key
	}
	return out
}

// unknownKey reports key k in the table at path. It suggests the closest
// known key of that table when the difference looks like a typo, or the
// place where a key of that name belongs when it is in the wrong table
// (such as level = "debug" above the [log] header).
func (d *decoder) unknownKey(path, k string, v any, known []string) {
	what := "key"
	switch v.(type) {
	case map[string]any, []map[string]any:
		what = "table"
	}
	p := joinPath(path, k)
	msg := fmt.Sprintf("unknown %s %q", what, p)
	if s := suggest(k, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", joinPath(path, s))
	} else if elsewhere := d.findKey(k); elsewhere != "" {
		msg += fmt.Sprintf(" (%q is a known key; is it in the wrong table?)", elsewhere)
	}
	d.add(d.line(p), ErrUnknownKey, "%s", msg)
}

// findKey returns the first full key path of the schema whose last
// element is k, or "".
func (d *decoder) findKey(k string) string {
	for _, p := range d.allKeys {
		if p == k || strings.HasSuffix(p, "."+k) {
			return p
		}
	}
	return ""
}

// suggest returns the known key closest to k if it differs only in case or
// in '-' for '_', or is within one edit (two for keys longer than five
// bytes, where two typos are still recognisable), else "".
func suggest(k string, known []string) string {
	best, bestDist := "", 2
	if len(k) > 5 {
		bestDist = 3
	}
	norm := strings.ReplaceAll(strings.ToLower(k), "-", "_")
	for _, c := range known {
		if norm == c {
			return c
		}
		if dist := editDistance(norm, c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes ("levle" for "level") each count as one edit. Long strings are
// never close: keys are short.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	// d[i][j] is the distance between a[:i] and b[:j].
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// tableField is a key holding a TOML table ([section]) decoded with fields
// into the struct ptr returns.
func tableField[T, S any](key string, ptr func(*T) *S, fields []field[S]) field[T] {
	return field[T]{key: key, sub: keyPaths(fields), decode: func(d *decoder, path string, v any, dst *T) {
		m, ok := v.(map[string]any)
		if !ok {
			d.typeError(path, "a table (["+path+"])", v)
			return
		}
		decodeTable(d, path, m, ptr(dst), fields)
	}}
}

// stringField is a string that check accepts; check's error is the
// message.
func stringField[T any](key string, ptr func(*T) *string, check func(string) error) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		s, ok := v.(string)
		if !ok {
			d.typeError(path, "a string", v)
			return
		}
		if err := check(s); err != nil {
			d.errorf(path, ErrValue, "%v", err)
			return
		}
		*ptr(dst) = s
	}}
}

// enumField is a string that must be one of values.
func enumField[T any](key string, ptr func(*T) *string, values ...string) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		s, ok := v.(string)
		if !ok {
			d.typeError(path, "a string", v)
			return
		}
		for _, want := range values {
			if s == want {
				*ptr(dst) = s
				return
			}
		}
		d.errorf(path, ErrValue, "%q is not one of %s", s, quoteList(values))
	}}
}

// intField is an integer in [lo, hi].
func intField[T any](key string, ptr func(*T) *int, lo, hi int) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		n, ok := v.(int64)
		if !ok {
			d.typeError(path, "an integer", v)
			return
		}
		if n < int64(lo) || n > int64(hi) {
			d.errorf(path, ErrValue, "%d is out of range %d..%d", n, lo, hi)
			return
		}
		*ptr(dst) = int(n)
	}}
}

// boolField is true or false.
func boolField[T any](key string, ptr func(*T) *bool) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		b, ok := v.(bool)
		if !ok {
			d.typeError(path, "true or false", v)
			return
		}
		*ptr(dst) = b
	}}
}

// durationField is a Go duration string in [lo, hi]. A lower bound above
// zero is reported as "must be more than 0" when lo is the smallest
// duration, which reads better than "at least 1ns".
func durationField[T any](key string, ptr func(*T) *Duration, lo, hi time.Duration) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		s, ok := v.(string)
		if !ok {
			d.typeError(path, `a duration string such as "5s" or "2m30s"`, v)
			return
		}
		var dur Duration
		if err := dur.UnmarshalText([]byte(s)); err != nil {
			d.errorf(path, ErrValue, "%q is not a duration such as \"5s\" or \"2m30s\"", s)
			return
		}
		switch {
		case dur.Duration < 0:
			d.errorf(path, ErrValue, "must not be negative, got %q", s)
		case dur.Duration < lo && lo == time.Nanosecond:
			d.errorf(path, ErrValue, "must be more than 0, got %q", s)
		case dur.Duration < lo:
			d.errorf(path, ErrValue, "must be at least %v, got %q", lo, s)
		case dur.Duration > hi:
			d.errorf(path, ErrValue, "must be at most %v, got %q", hi, s)
		default:
			*ptr(dst) = dur
		}
	}}
}

// stringListField is an array of strings, each checked and normalised by
// parse. Each bad element is reported on its own line.
func stringListField[T any](key string, ptr func(*T) *[]string, parse func(string) (string, error)) field[T] {
	return listField(key, ptr, parse)
}

// prefixListField is an array of IP addresses and CIDR prefixes; see
// parsePrefix.
func prefixListField[T any](key string, ptr func(*T) *[]netip.Prefix) field[T] {
	return listField(key, ptr, parsePrefix)
}

// listField is an array of strings, each parsed into an E by parse. The
// list is stored only if every element is good, so a bad element leaves
// the default in place rather than a shortened list; each bad element is
// reported on its own line.
func listField[T, E any](key string, ptr func(*T) *[]E, parse func(string) (E, error)) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		list, ok := v.([]any)
		if !ok {
			d.typeError(path, "an array of strings", v)
			return
		}
		out := make([]E, 0, len(list))
		bad := false
		for i, e := range list {
			p := indexPath(path, i)
			s, ok := e.(string)
			if !ok {
				d.typeError(p, "a string", e)
				bad = true
				continue
			}
			norm, err := parse(s)
			if err != nil {
				d.errorf(p, ErrValue, "%v", err)
				bad = true
				continue
			}
			out = append(out, norm)
		}
		if !bad {
			*ptr(dst) = out
		}
	}}
}

// tableArrayField is an array of tables ([[key]]), each decoded with
// fields into an S appended to the slice ptr returns. required are keys
// each table must have; setLine records the line of the table's header.
// Inline arrays of inline tables (key = [{...}]) are accepted too. The
// slice is stored only if every element is good, as for listField.
func tableArrayField[T, S any](key string, ptr func(*T) *[]S, fields []field[S], required []string, setLine func(*S, int)) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		var tables []map[string]any
		switch v := v.(type) {
		case []map[string]any:
			tables = v
		case []any:
			for i, e := range v {
				m, ok := e.(map[string]any)
				if !ok {
					d.typeError(indexPath(path, i), "a table", e)
					return
				}
				tables = append(tables, m)
			}
		default:
			d.typeError(path, "an array of tables ([["+path+"]])", v)
			return
		}
		out := make([]S, 0, len(tables))
		before := len(d.errs)
		for i, m := range tables {
			p := indexPath(path, i)
			var elem S
			decodeTable(d, p, m, &elem, fields)
			for _, r := range required {
				if _, ok := m[r]; !ok {
					d.errorf(p, ErrValue, "missing %q", r)
				}
			}
			setLine(&elem, d.line(p))
			out = append(out, elem)
		}
		if len(d.errs) == before {
			*ptr(dst) = out
		}
	}}
}

// expireField is SigningConfig.Expire: 0 (no x=), or 1h to 8760h (a
// year). Shorter lifetimes let signatures expire in retry queues.
func expireField[T any](key string, ptr func(*T) *Duration) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		s, ok := v.(string)
		if !ok {
			d.typeError(path, `a duration string such as "0s" or "168h"`, v)
			return
		}
		var dur Duration
		if err := dur.UnmarshalText([]byte(s)); err != nil {
			d.errorf(path, ErrValue, "%q is not a duration such as \"0s\" or \"168h\"", s)
			return
		}
		switch {
		case dur.Duration < 0:
			d.errorf(path, ErrValue, "must not be negative, got %q", s)
		case dur.Duration > 0 && dur.Duration < time.Hour:
			d.errorf(path, ErrValue, "must be 0 (no x=) or at least 1h, got %q: a signature that expires sooner can die in a retry queue", s)
		case dur.Duration > 8760*time.Hour:
			d.errorf(path, ErrValue, "must be at most 8760h (a year), got %q", s)
		case dur.Duration%time.Second != 0:
			d.errorf(path, ErrValue, "must be whole seconds (x= counts seconds), got %q", s)
		default:
			*ptr(dst) = dur
		}
	}}
}

// fileMode is the TOML form of os.FileMode: an octal string.
type fileMode uint32

// socketModeField is a permission for a Unix socket, as an octal string
// ("0660", "660" or "0o660"). Integers are refused: TOML has no leading-zero
// octal, so socket_mode = 660 would silently mean 0o1224.
func socketModeField[T any](key string, ptr func(*T) *fileMode) field[T] {
	return field[T]{key: key, decode: func(d *decoder, path string, v any, dst *T) {
		s, ok := v.(string)
		if !ok {
			d.typeError(path, `an octal string such as "0660"`, v)
			return
		}
		m, err := parseSocketMode(s)
		if err != nil {
			d.errorf(path, ErrValue, "%v", err)
			return
		}
		*ptr(dst) = fileMode(m)
	}}
}

// describe names the TOML type of a decoded value, quoting short strings so
// the message shows what was written.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) <= 40 {
			return fmt.Sprintf("string %q", v)
		}
		return "a string"
	case int64:
		return "integer " + strconv.FormatInt(v, 10)
	case float64:
		return "float " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case time.Time:
		return "a date/time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("%T", v)
	}
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 2 {
		return q[0] + " or " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
