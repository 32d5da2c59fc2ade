package dkim

import (
	"bufio"
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

// TestRFCVectors: RFC 8463 Appendix A, RFC 6376 Appendix A.2/C and
// go-msgauth's signing vectors (testdata/dkim-rfc-vectors/SOURCE.md). Every
// signature must pass.
func TestRFCVectors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		dir, msg string
		want     []Result
	}{
		{"rfc8463", "signed-message.eml", []Result{
			{Result: Pass, Domain: "football.example.com", Identifier: "@football.example.com", Selector: "brisbane", Algorithm: "ed25519-sha256", KeyBits: 256},
			{Result: Pass, Domain: "football.example.com", Identifier: "@football.example.com", Selector: "test", Algorithm: "rsa-sha256", KeyBits: 1024},
		}},
		{"rfc6376", "signed-message.eml", []Result{
			{Result: Pass, Domain: "example.com", Identifier: "joe@football.example.com", Selector: "brisbane", Algorithm: "rsa-sha256", KeyBits: 1024},
		}},
		{"go-msgauth-sign", "signed-rsa.eml", []Result{
			{Result: Pass, Domain: "example.org", Identifier: "@example.org", Selector: "brisbane", Algorithm: "rsa-sha256", KeyBits: 1024},
		}},
		{"go-msgauth-sign", "signed-ed25519.eml", []Result{
			{Result: Pass, Domain: "football.example.com", Identifier: "@football.example.com", Selector: "brisbane", Algorithm: "ed25519-sha256", KeyBits: 256},
		}},
	}
	total := 0
	for _, tc := range cases {
		t.Run(tc.dir+"/"+tc.msg, func(t *testing.T) {
			f := resolver.NewFake()
			loadZone(t, f, "dkim-rfc-vectors/"+tc.dir, "dns-records.txt")
			v := &Verifier{Resolver: f}
			got := driveAll(t, v, readFile(t, "dkim-rfc-vectors", tc.dir, tc.msg))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d results, want %d", len(got), len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Result != w.Result || g.Domain != w.Domain || g.Identifier != w.Identifier ||
					g.Selector != w.Selector || g.Algorithm != w.Algorithm || g.KeyBits != w.KeyBits {
					t.Errorf("signature %d: got %+v, want %+v", i, g, w)
				}
				if len(g.B) < bPrefixLen {
					t.Errorf("signature %d: header.b %q shorter than %d", i, g.B, bPrefixLen)
				}
			}
		})
		total += len(tc.want)
	}
	t.Logf("rfc-vectors corpus: %d messages, %d signatures, all expected pass", len(cases), total)
}

// TestStalwartCorpus: Stalwart mail-auth's resources/dkim (SOURCE.md).
// Upstream verifies at Unix time 1667843664; 005 depends on it (x= a day
// later).
func TestStalwartCorpus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want []string
	}{
		{"001.txt", []string{Pass, Pass}},
		{"002.txt", []string{Pass}}, // PKCS#1 RSAPublicKey in p=
		{"003.txt", []string{Pass, Pass}},
		{"004.txt", []string{Pass}},
		{"005.txt", []string{Pass}},
		{"006.txt", []string{Pass}},
	}
	agree := 0
	for _, tc := range cases {
		ok := t.Run(tc.file, func(t *testing.T) {
			raw := readFile(t, "dkim-stalwart-mail-auth", tc.file)
			zone, msg, found := bytes.Cut(raw, []byte("\n\n"))
			if !found {
				t.Fatal("no blank line after the records")
			}
			f := resolver.NewFake()
			for _, line := range strings.Split(string(zone), "\n") {
				name, val, _ := strings.Cut(line, " ")
				f.AddTXT(name, val)
			}
			v := &Verifier{Resolver: f, Now: fixedClock(1667843664)}
			// The messages have bare LF: Session must turn them into CRLF.
			got := tokens(driveAll(t, v, msg))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
		if ok {
			agree++
		}
	}
	t.Logf("stalwart corpus: %d messages, %d agree with upstream", len(cases), agree)
}

// TestStalwartExpiredToday: 005 verified with today's clock is past x=.
func TestStalwartExpiredToday(t *testing.T) {
	t.Parallel()
	raw := readFile(t, "dkim-stalwart-mail-auth", "005.txt")
	zone, msg, _ := bytes.Cut(raw, []byte("\n\n"))
	f := resolver.NewFake()
	name, val, _ := strings.Cut(string(zone), " ")
	f.AddTXT(name, val)
	got := drive(t, &Verifier{Resolver: f}, msg, 4096)
	if len(got) != 1 || got[0].Result != PermError || got[0].Reason != "signature expired" {
		t.Fatalf("got %+v, want permerror/signature expired", got)
	}
	if f.Queries("TXT", name) != 0 {
		t.Errorf("expired signature still caused a key lookup")
	}
}

// TestDkimpyCorpus: dkimpy's pre-signed messages (SOURCE.md, LF line
// ends), and its key-record variants served for the RSA signature of
// rfc6376.signed.msg.
func TestDkimpyCorpus(t *testing.T) {
	t.Parallel()
	const dir = "dkim-dkimpy"
	cases := []struct {
		name string
		msg  string
		key  string // data file served at test._domainkey.football.example.com instead of test.txt
		want []string
	}{
		{"rfc6376.signed", "rfc6376.signed.msg", "", []string{Pass, Pass}},
		{"ed25519test2-exim", "ed25519test2.msg", "", []string{Pass}},
		{"test2-degenerate-folding", "test2.message", "", []string{Pass}},
		{"key-without-k", "rfc6376.signed.msg", "test2.txt", []string{Pass, Pass}},
		{"key-badversion", "rfc6376.signed.msg", "badversion.txt", []string{Pass, PermError}},
		{"key-badk", "rfc6376.signed.msg", "badk.txt", []string{Pass, PermError}},
		{"key-corrupt", "rfc6376.signed.msg", "test_bad.txt", []string{Pass, PermError}},
		{"key-tlsrpt-service", "rfc6376.signed.msg", "test_tlsrpt.txt", []string{Pass, PermError}},
	}
	agree := 0
	for _, tc := range cases {
		ok := t.Run(tc.name, func(t *testing.T) {
			f := resolver.NewFake()
			zone := string(readFile(t, dir, "dns-records-from-test-code.txt"))
			if tc.key != "" {
				zone = strings.ReplaceAll(zone, "test._domainkey.football.example.com. TXT [data/test.txt]",
					"test._domainkey.football.example.com. TXT [data/"+tc.key+"]")
			}
			loadZoneText(t, f, dir, zone)
			got := tokens(driveAll(t, &Verifier{Resolver: f}, readFile(t, dir, "data", tc.msg)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
		if ok {
			agree++
		}
	}
	t.Logf("dkimpy corpus: %d cases, %d agree with upstream", len(cases), agree)
}

// loadZoneText is loadZone over text already in memory.
func loadZoneText(t testing.TB, f *resolver.Fake, dir, text string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' {
			continue
		}
		name, rest, _ := strings.Cut(line, " TXT ")
		rest = strings.TrimSpace(rest)
		var val string
		if strings.HasPrefix(rest, "[") {
			val = strings.TrimSpace(string(readFile(t, dir, rest[1:strings.Index(rest, "]")])))
		} else {
			val = rest[1:strings.LastIndex(rest, `"`)]
		}
		f.AddTXT(name, val)
	}
}
