package dkim

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

// mailDKIMResolver serves testdata/dkim-perl-mail-dkim/FAKE_DNS.dat
// (format in that folder's SOURCE.md).
func mailDKIMResolver(t testing.TB) *resolver.Fake {
	t.Helper()
	f := resolver.NewFake()
	sc := bufio.NewScanner(bytes.NewReader(readFile(t, "dkim-perl-mail-dkim", "FAKE_DNS.dat")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		i := strings.IndexAny(line, " \t")
		name, val := line[:i], strings.TrimSpace(line[i:])
		switch val {
		case "NXDOMAIN": // absent from the fake: NXDOMAIN
		case "~~Query timed out~~":
			f.Timeout[name] = true
		case "~~SERVFAIL~~":
			f.Fail[name] = true
		case `""`:
			f.AddTXT(name, "")
		default:
			f.AddTXT(name, val)
		}
	}
	return f
}

// Why a row's expectation differs from Mail::DKIM's (SOURCE.md, "How to
// read expected.tsv"). The corpus predates RFC 6376/8301.
const (
	ruleSHA1    = "rfc8301: rsa-sha1 is permerror (RFC 8301 §3.1)"
	ruleVersion = "rfc6376: pre-standard signature, v= missing or not 1 is permerror (§6.1.1)"
	ruleDK      = "rfc4870: DomainKeys only, no DKIM-Signature, so no result"
	ruleLenient = "rfc6376: upstream passes if any signature passes; here every one is permerror"
)

// TestMailDKIMCorpus runs all 79 Mail::DKIM corpus messages. Rows with an
// empty rule must agree with upstream (pass=pass, fail=fail,
// invalid=permerror/temperror) and for the same reason; the others say
// which RFC rule decides instead.
func TestMailDKIMCorpus(t *testing.T) {
	t.Parallel()
	type row struct {
		file     string
		upstream string // verifier.t expectation
		want     string // our tokens, comma-separated; "" = no signature
		reason   string // substring of the first Result's Reason
		rule     string // "" = agrees with upstream
	}
	sha1 := func(file, upstream string) row {
		return row{file, upstream, PermError, "rsa-sha1", ruleSHA1}
	}
	prestd := func(file, upstream string) row {
		return row{file, upstream, PermError, "unsupported signature version", ruleVersion}
	}
	dk := func(file, upstream string) row { return row{file, upstream, "", "", ruleDK} }
	rows := []row{
		prestd("good_ietf00_1.txt", "pass"), prestd("good_ietf00_2.txt", "pass"),
		prestd("good_ietf00_3.txt", "pass"), prestd("good_ietf00_4.txt", "pass"),
		prestd("good_ietf00_5.txt", "pass"),
		prestd("mine_ietf01_1.txt", "pass"), prestd("mine_ietf01_2.txt", "pass"),
		prestd("mine_ietf01_3.txt", "pass"), prestd("mine_ietf01_4.txt", "pass"),
		prestd("mine_ietf05_1.txt", "pass"),
		prestd("good_ietf01_1.txt", "pass"), prestd("good_ietf01_2.txt", "pass"),
		sha1("good_rfc4871_3.txt", "pass"), sha1("good_rfc4871_4.txt", "pass"),
		sha1("good_1878523.txt", "pass"), sha1("good_83176.txt", "pass"),
		{"multiple_1.txt", "pass", "permerror,permerror,permerror,permerror", "unsupported signature version", ruleVersion},
		{"multiple_2.txt", "pass", "permerror,permerror,permerror,permerror", "rsa-sha1", ruleLenient + "; " + ruleSHA1 + "; the 4th is a tag-list syntax error"},
		sha1("good_qp_1.txt", "pass"), sha1("good_qp_2.txt", "pass"), sha1("good_qp_3.txt", "pass"),
		prestd("bad_ietf01_1.txt", "fail"), prestd("bad_ietf01_2.txt", "fail"),
		prestd("bad_ietf01_3.txt", "fail"), prestd("bad_1.txt", "fail"),
		sha1("bad_1878954.txt", "fail"),
		dk("good_dk_gmail.txt", "pass"), dk("good_dk_yahoo.txt", "pass"),
		dk("good_dk_1.txt", "pass"), dk("good_dk_2.txt", "pass"), dk("good_dk_3.txt", "pass"),
		dk("good_dk_4.txt", "pass"), dk("good_dk_5.txt", "pass"), dk("good_dk_6.txt", "pass"),
		dk("good_dk_7.txt", "pass"), dk("dk_headers_1.txt", "pass"), dk("dk_headers_2.txt", "pass"),
		dk("bad_dk_1.txt", "invalid"), dk("bad_dk_2.txt", "invalid"), dk("bad_dk_3.txt", "invalid"),
		dk("bad_dk_4.txt", "invalid"), dk("bad_dk_5.txt", "invalid"), dk("dk_multiple_1.txt", "pass"),
		prestd("no_body_1.txt", "pass"), prestd("no_body_2.txt", "pass"), prestd("no_body_3.txt", "pass"),
		{"ignore_1.txt", "invalid", PermError, "unsupported signature version", ""},
		prestd("ignore_2.txt", "invalid"), prestd("ignore_3.txt", "invalid"), prestd("ignore_4.txt", "invalid"),
		sha1("ignore_5.txt", "invalid"), sha1("ignore_6.txt", "invalid"), sha1("ignore_7.txt", "invalid"),
		{"ignore_8.txt", "invalid", PermError, "i= not within d=", ""},
		sha1("goodkey_1.txt", "pass"), sha1("goodkey_2.txt", "pass"),
		sha1("goodkey_3.txt", "pass"), sha1("goodkey_4.txt", "pass"),
		prestd("badkey_1.txt", "invalid"), prestd("badkey_2.txt", "invalid"), prestd("badkey_3.txt", "invalid"),
		prestd("badkey_4.txt", "invalid"), prestd("badkey_5.txt", "invalid"), prestd("badkey_6.txt", "invalid"),
		prestd("badkey_7.txt", "invalid"),
		sha1("badkey_8.txt", "invalid"), sha1("badkey_9.txt", "invalid"), sha1("badkey_10.txt", "invalid"),
		{"badkey_11.txt", "invalid", PermError, "hash algorithm not allowed by key", ""},
		sha1("badkey_12.txt", "invalid"), sha1("badkey_13.txt", "invalid"),
		sha1("badkey_14.txt", "invalid"), sha1("badkey_15.txt", "invalid"),
		{"goodkey_ed25519.txt", "pass", Pass, "", ""},
		{"badkey1_ed25519.txt", "invalid", PermError, "malformed key record", ""},
		{"badkey2_ed25519.txt", "fail", Fail, "signature mismatch", ""},
		{"badkey3_ed25519.txt", "fail", Fail, "body hash mismatch", ""},
		{"badkey4_ed25519.txt", "invalid", PermError, "no key for signature", ""},
		{"badkey5_ed25519.txt", "invalid", PermError, "malformed key record", ""},
	}
	ents, err := os.ReadDir("testdata/dkim-perl-mail-dkim/corpus")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(ents) {
		t.Fatalf("table has %d rows, corpus has %d messages", len(rows), len(ents))
	}
	tsv := string(readFile(t, "dkim-perl-mail-dkim", "expected.tsv"))
	f := mailDKIMResolver(t)
	agree, judged := 0, 0
	for _, r := range rows {
		// Keep the table honest against expected.tsv.
		if !strings.Contains(tsv, "\n"+r.file+"\t"+r.upstream+"\t") {
			t.Errorf("%s: upstream %q does not match expected.tsv", r.file, r.upstream)
		}
		if r.rule == "" {
			var first string
			if r.want != "" {
				first, _, _ = strings.Cut(r.want, ",")
			}
			same := first == r.upstream || (r.upstream == "invalid" && (first == PermError || first == TempError))
			if !same {
				t.Errorf("%s: row claims agreement but %s is not upstream %s", r.file, first, r.upstream)
			}
			agree++
		} else {
			judged++
		}
		t.Run(r.file, func(t *testing.T) {
			t.Parallel()
			res := driveAll(t, &Verifier{Resolver: f}, readFile(t, "dkim-perl-mail-dkim", "corpus", r.file))
			got := strings.Join(tokens(res), ",")
			if got != r.want {
				t.Fatalf("got %q, want %q (rule: %s)", got, r.want, r.rule)
			}
			if len(res) > 0 && !strings.Contains(res[0].Reason, r.reason) {
				t.Errorf("reason %q, want it to contain %q", res[0].Reason, r.reason)
			}
		})
	}
	t.Logf("mail-dkim corpus: %d messages, %d agree with upstream, %d judged by RFC 6376/8301 instead", len(rows), agree, judged)
}
