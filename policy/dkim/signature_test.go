package dkim

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/authmilter/authmilter/resolver"
)

const goodSig = "v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel;\r\n" +
	"\th=From : To:subject; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n" +
	" b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb\r\n av+yuU4zGeeruD00lszZVoG4ZHRNiYzR"

func TestParseSignature(t *testing.T) {
	t.Parallel()
	sig, err := ParseSignature(goodSig)
	if err != nil {
		t.Fatal(err)
	}
	want := Signature{Version: "1", Algorithm: "rsa-sha256", HeaderCanon: "relaxed", BodyCanon: "simple",
		Domain: "example.com", Selector: "sel", Identifier: "@example.com",
		BodyHash: "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=",
		B:        "dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR"}
	if sig.Version != want.Version || sig.Algorithm != want.Algorithm || sig.HeaderCanon != want.HeaderCanon ||
		sig.BodyCanon != want.BodyCanon || sig.Domain != want.Domain || sig.Selector != want.Selector ||
		sig.Identifier != want.Identifier || sig.BodyHash != want.BodyHash || sig.B != want.B {
		t.Errorf("got %+v", sig)
	}
	if !slices.Equal(sig.SignedHeaders, []string{"From", "To", "subject"}) {
		t.Errorf("h= %q", sig.SignedHeaders)
	}
	if !slices.Equal(sig.QueryMethods, []string{"dns/txt"}) || sig.HasTimestamp || sig.HasExpiration || sig.HasBodyLength {
		t.Errorf("defaults wrong: %+v", sig)
	}

	base := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(goodSig) }
	cases := []struct {
		name  string
		value string
		err   error // nil: valid
		check func(*Signature) bool
	}{
		{"trailing-semicolon", goodSig + ";\r\n ", nil, nil},
		{"c-header-only", base("c=relaxed/simple", "c=relaxed"), nil, func(s *Signature) bool { return s.HeaderCanon == "relaxed" && s.BodyCanon == "simple" }},
		{"no-c", base("c=relaxed/simple; ", ""), nil, func(s *Signature) bool { return s.HeaderCanon == "simple" && s.BodyCanon == "simple" }},
		{"i-qp", base("s=sel;", "s=sel; i=joe=40x=3Dy@sub.example.com;"), nil, func(s *Signature) bool { return s.Identifier == "joe@x=y@sub.example.com" }},
		{"i-domain-case", base("s=sel;", "s=sel; i=@Sub.EXAMPLE.com;"), nil, nil},
		{"times", base("s=sel;", "s=sel; t=1000; x=2000;"), nil, func(s *Signature) bool { return s.Timestamp == 1000 && s.Expiration == 2000 }},
		{"l", base("s=sel;", "s=sel; l=0;"), nil, func(s *Signature) bool { return s.HasBodyLength && s.BodyLength == 0 }},
		{"q-list", base("s=sel;", "s=sel; q=dns/txt:x-other;"), nil, func(s *Signature) bool { return len(s.QueryMethods) == 2 }},
		{"unknown-tag-kept", base("s=sel;", "s=sel; zz_9=what ever;"), nil, func(s *Signature) bool { return slices.Contains(s.Tags, Tag{"zz_9", "what ever"}) }},
		{"algorithm-case", base("rsa-sha256", "RSA-SHA256"), nil, func(s *Signature) bool { return s.Algorithm == "rsa-sha256" }},
		{"no-v", base("v=1; ", ""), ErrVersion, nil},
		{"v2", base("v=1", "v=2"), ErrVersion, nil},
		{"v-0.5", base("v=1", "v=0.5"), ErrVersion, nil},
		{"missing-bh", base("bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;", ""), ErrMissingTag, nil},
		{"missing-s", base("s=sel;", ""), ErrMissingTag, nil},
		{"missing-h", base("h=From : To:subject;", ""), ErrMissingTag, nil},
		{"duplicate-tag", base("s=sel;", "s=sel; s=other;"), ErrSyntax, nil},
		{"no-equals", base("s=sel;", "s=sel; junk;"), ErrSyntax, nil},
		{"empty-spec", base("s=sel;", "s=sel; ;"), ErrSyntax, nil},
		{"bad-tag-name", base("s=sel;", "s=sel; 9x=1;"), ErrSyntax, nil},
		{"non-ascii-d", base("d=example.com", "d=example.net\xe9"), ErrSyntax, nil},
		{"bad-domain", base("d=example.com", "d=exa mple..com"), ErrSyntax, nil},
		{"bad-selector", base("s=sel", "s=se/l"), ErrSyntax, nil},
		{"bad-b64", base("b=dzdV", "b=!zdV"), ErrSyntax, nil},
		{"empty-b", base(" b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb\r\n av+yuU4zGeeruD00lszZVoG4ZHRNiYzR", " b="), ErrSyntax, nil},
		{"bad-a", base("a=rsa-sha256", "a=rsa"), ErrSyntax, nil},
		{"bad-c", base("c=relaxed/simple", "c=relaxed/"), ErrSyntax, nil},
		{"no-from", base("h=From : To:subject", "h=To:subject"), ErrFromNotSigned, nil},
		{"empty-h-item", base("h=From : To:subject", "h=From::To"), ErrSyntax, nil},
		{"i-other-domain", base("s=sel;", "s=sel; i=joe@example.org;"), ErrIdentifier, nil},
		{"i-suffix-not-subdomain", base("s=sel;", "s=sel; i=joe@badexample.com;"), ErrIdentifier, nil},
		{"i-no-at", base("s=sel;", "s=sel; i=example.com;"), ErrIdentifier, nil},
		{"i-bad-qp", base("s=sel;", "s=sel; i=joe=4@example.com;"), ErrSyntax, nil},
		{"t-not-number", base("s=sel;", "s=sel; t=12a;"), ErrSyntax, nil},
		{"t-too-long", base("s=sel;", "s=sel; t=1234567890123;"), ErrSyntax, nil},
		{"x-before-t", base("s=sel;", "s=sel; t=2000; x=1000;"), ErrTimestamp, nil},
		{"x-equals-t", base("s=sel;", "s=sel; t=2000; x=2000;"), ErrTimestamp, nil},
		{"l-negative", base("s=sel;", "s=sel; l=-1;"), ErrSyntax, nil},
		{"bare-cr", base("s=sel;", "s=se\rl;"), ErrSyntax, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sig, err := ParseSignature(tc.value)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if tc.check != nil && !tc.check(sig) {
					t.Errorf("check failed: %+v", sig)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			// Semantic errors still report d= and s= when present.
			if sig != nil && !errors.Is(err, ErrSyntax) && sig.Domain != "example.com" && tc.name != "non-ascii-d" {
				t.Errorf("d= lost on error: %+v", sig)
			}
		})
	}
}

func TestParseKeyRecord(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	pkcs1 := "MIGJAoGBALVI635dLK4cJJAH3Lx6upo3X/Lm1tQz3mezcWTA3BUBnyIsdnRf57aD5BtNmhPrYYDlWlzw3UgnKisIxktkk5+iMQMlFtAS10JB8L3YadXNJY+JBcbeSi5TgJe4WFzNgW95FWDAuSTRXSWZfA/8xjflbTLDx0euFZOM7C4T0GwLAgMBAAE="
	spkiEd := "MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE="
	cases := []struct {
		name, txt string
		err       error
		bits      int
	}{
		{"spki-rsa", "v=DKIM1; p=" + k.rsaP, nil, 1024},
		{"pkcs1-rsa", "v=DKIM1; p=" + pkcs1, nil, 1024},
		{"folded-p", "p=" + k.rsaP[:20] + " \t" + k.rsaP[20:], nil, 1024},
		{"ed25519", "k=ed25519; p=" + k.edP, nil, 256},
		{"ed25519-spki", "k=ed25519; p=" + spkiEd, ErrKeySyntax, 0},
		{"revoked", "p=", ErrKeyRevoked, 0},
		{"bad-b64", "p=%%%", ErrKeySyntax, 0},
		{"rsa-says-ed", "k=rsa; p=" + k.edP, ErrKeySyntax, 0},
		{"unknown-k", "k=dsa; p=" + k.rsaP, ErrKeyUnsupported, 0},
		{"dup", "p=" + k.rsaP + "; p=" + k.rsaP, ErrKeySyntax, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, err := parseKeyRecord(tc.txt)
			if !errors.Is(err, tc.err) || (err == nil && (tc.err != nil || key.bits != tc.bits)) {
				t.Fatalf("got %+v, %v; want bits %d, %v", key, err, tc.bits, tc.err)
			}
		})
	}
}

// FuzzParseSignature: no panics, and anything accepted satisfies the
// §6.1.1 invariants the verifier relies on.
func FuzzParseSignature(f *testing.F) {
	f.Add(goodSig)
	f.Add("v=1; a=ed25519-sha256; c=relaxed/relaxed; d=football.example.com; i=@football.example.com; q=dns/txt; s=brisbane; t=1528637909; h=from : to : subject : date : message-id : from : subject : date; bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=; b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==")
	f.Add("v=1; a=rsa-sha1; i=j=40x@example.com; d=example.com; s=s; h=from; bh=; b=;")
	f.Add("v=1;;")
	f.Add("a=b\r\n c=d; x=99999999999999")
	f.Fuzz(func(t *testing.T, value string) {
		sig, err := ParseSignature(value)
		if err != nil {
			if sig == nil && !errors.Is(err, ErrSyntax) {
				t.Fatalf("nil signature with non-syntax error %v", err)
			}
			return
		}
		if sig.Version != "1" || !validDomain(sig.Domain) || !validDomain(sig.Selector) || sig.B == "" {
			t.Fatalf("accepted invalid signature %+v", sig)
		}
		if _, err := base64.StdEncoding.DecodeString(sig.B); err != nil {
			t.Fatalf("accepted bad b=: %v", err)
		}
		if !slices.ContainsFunc(sig.SignedHeaders, func(h string) bool { return strings.EqualFold(h, "from") }) {
			t.Fatal("accepted signature without From in h=")
		}
		// Re-serializing the tags parses to the same tags.
		var b strings.Builder
		for _, tag := range sig.Tags {
			b.WriteString(tag.Name + "=" + tag.Value + "; ")
		}
		again, err := ParseSignature(b.String())
		if err != nil || !slices.Equal(again.Tags, sig.Tags) {
			t.Fatalf("round trip: %v, %+v vs %+v", err, again, sig)
		}
	})
}

// FuzzParseKeyRecord: the key-record parser never panics and accepted keys
// have a size.
func FuzzParseKeyRecord(f *testing.F) {
	f.Add("v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
	f.Add("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	f.Add("k=rsa; t; p=")
	f.Add("")
	f.Fuzz(func(t *testing.T, txt string) {
		key, err := parseKeyRecord(txt)
		if err == nil && key.bits == 0 {
			t.Fatalf("accepted key without size: %+v", key)
		}
	})
}

// FuzzSession drives arbitrary messages through both verification paths:
// no panic, no hang, one result per DKIM-Signature field.
func FuzzSession(f *testing.F) {
	f.Add([]byte("DKIM-Signature: "+goodSig+"\r\nFrom: a@example.com\r\n\r\nbody\r\n"), uint8(3))
	f.Add([]byte("DKIM-Signature: v=1; b=AA==\nDKIM-Signature:x\n\n\n\n"), uint8(1))
	f.Add([]byte("From: x\r\n\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, msg []byte, chunk uint8) {
		fk := resolver.NewFake()
		fk.AddTXT("sel._domainkey.example.com", "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB")
		head, body := string(msg), ""
		for _, sep := range []string{"\n\r\n", "\n\n"} {
			if i := strings.Index(string(msg), sep); i >= 0 && i < len(head) {
				head, body = string(msg[:i+1]), string(msg[i+len(sep):])
			}
		}
		for _, own := range []bool{false, true} {
			s := (&Verifier{Resolver: fk, forceOwn: own}).NewSession(context.Background())
			want := 0
			for _, field := range strings.SplitAfter(head, "\n") {
				if isSignatureField([]byte(field)) && field != "\r\n" && field != "\n" {
					want++
				}
				s.Header([]byte(field))
			}
			s.EndHeaders()
			n := int(chunk) + 1
			for b := []byte(body); len(b) > 0; b = b[min(n, len(b)):] {
				if err := s.Body(b[:min(n, len(b))]); err != nil {
					t.Fatal(err)
				}
			}
			if res := s.Close(); len(res) != want {
				t.Fatalf("%d results for %d signature fields", len(res), want)
			}
		}
	})
}
