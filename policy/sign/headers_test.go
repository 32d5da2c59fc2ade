package sign

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/policy/dkim"
	"github.com/authmilter/authmilter/resolver"
)

func TestHeaderList(t *testing.T) {
	t.Parallel()
	typical := []string{"Received", "Received", "Return-Path", "DKIM-Signature", "Authentication-Results",
		"From", "To", "Cc", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "Reply-To", "In-Reply-To", "References", "X-Mailer", "X-Spam-Score",
		"List-Id", "list-unsubscribe", "List-Unsubscribe-Post", "Sender", "ARC-Seal"}
	for _, tc := range []struct {
		name    string
		o       Options
		present []string
		want    string
	}{
		{"default, typical message", Options{}, typical,
			"From:From:To:Cc:Subject:Date:Message-ID:MIME-Version:Content-Type:Reply-To:In-Reply-To:References:List-Id:list-unsubscribe:List-Unsubscribe-Post"},
		{"explicit default profile", Options{Profile: ProfileDefault}, typical,
			"From:From:To:Cc:Subject:Date:Message-ID:MIME-Version:Content-Type:Reply-To:In-Reply-To:References:List-Id:list-unsubscribe:List-Unsubscribe-Post"},
		{"minimal, typical message", Options{Profile: ProfileMinimal}, typical,
			"From:From:To:Cc:Date:Message-ID:In-Reply-To:References:MIME-Version"},
		{"only From present", Options{}, []string{"From"}, "From:From"},
		{"From absent still oversigned", Options{}, []string{"To"}, "From:To"},
		{"no oversigning", Options{Oversign: []string{}}, []string{"From", "To", "Subject"}, "From:To:Subject"},
		{"oversign absent field signs its absence", Options{Oversign: []string{"From", "Reply-To", "Sender"}},
			[]string{"From", "Subject"}, "From:From:Subject:Reply-To:Sender"},
		{"oversign trace fields ignored", Options{Oversign: []string{"Received", "X-Foo", "Authentication-Results", ""}},
			[]string{"From", "Received"}, "From"},
		{"repeated fields all signed", Options{}, []string{"To", "From", "To", "Received", "To"}, "From:From:To:To:To"},
		{"case-insensitive match, list spelling kept", Options{}, []string{"FROM", "message-id", "SUBJECT"},
			"From:From:Subject:Message-ID"},
		{"custom list replaces profile", Options{Headers: []string{"Subject", "Date"}}, typical, "From:From:Subject:Date"},
		{"custom list drops trace fields and duplicates", Options{Headers: []string{"subject", "Received", "X-Mailer", "Subject", "DKIM-Signature", "ARC-Seal", "Return-Path"}},
			typical, "From:From:subject"},
		{"custom list without List-*", Options{Headers: []string{"From"}}, typical, "From:From"},
		{"custom list may name List-* explicitly", Options{Headers: []string{"List-Id"}}, typical, "From:From:List-Id"},
		{"minimal never adds List-*", Options{Profile: ProfileMinimal}, []string{"From", "List-Id"}, "From:From"},
		{"default List-* repeated", Options{}, []string{"From", "List-Id", "LIST-ID"}, "From:From:List-Id:List-Id"},
		{"names trimmed", Options{}, []string{" From ", "Subject\t"}, "From:From:Subject"},
		{"nothing present", Options{}, nil, "From"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := strings.Join(HeaderList(tc.o, tc.present), ":")
			if got != tc.want {
				t.Errorf("HeaderList = %s\nwant         %s", got, tc.want)
			}
			again := strings.Join(HeaderList(tc.o, tc.present), ":")
			if again != got {
				t.Errorf("not stable: %s then %s", got, again)
			}
		})
	}
}

func TestNeverSign(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"Received", true}, {"RECEIVED", true}, {"Return-Path", true}, {"DKIM-Signature", true},
		{"Authentication-Results", true}, {"X-Spam-Status", true}, {"x-originating-ip", true},
		{"ARC-Message-Signature", true}, {"From", false}, {"Xref", false}, {"List-Id", false},
		{"Arcane", false}, {"X", false}, {"", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := neverSign(tc.name); got != tc.want {
				t.Errorf("neverSign(%q) = %v", tc.name, got)
			}
		})
	}
}

// TestLongHeaderList: an h= list too long for one line is folded at the
// colons (RFC 5322 §2.1.1 998-octet limit) and still verifies, with both
// header canonicalizations.
func TestLongHeaderList(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	key := rsaKey(k)
	publish(t, f, key)
	var names []string
	msg := baseHeader
	for i := range 80 {
		n := fmt.Sprintf("Custom-Field-Number-%02d", i)
		names = append(names, n)
		msg += n + ": value\r\n"
	}
	msg += "\r\nHi.\r\n"
	for _, hc := range []string{Simple, Relaxed} {
		t.Run(hc, func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, []byte(msg), 4096, Options{HeaderCanon: hc, Headers: names}, key)
			for _, line := range strings.Split(sigs[0].Field, "\r\n") {
				if len(line) > 78 {
					t.Errorf("line of %d octets: %q", len(line), line)
				}
			}
			h, _ := tag(t, sigs[0].Field, "h")
			if want := strings.Join(append([]string{"From", "From"}, names...), ":"); h != want {
				t.Errorf("h=%s\nwant %s", h, want)
			}
			res := verify(t, f, prepend([]byte(msg), sigs), 4096, time.Time{})
			if len(res) != 1 || res[0].Result != dkim.Pass {
				t.Fatalf("verify: %+v", res)
			}
		})
	}
}

// TestProfilesRoundTrip: a message signed with each profile survives what
// the profile promises to survive and breaks on what it protects.
func TestProfilesRoundTrip(t *testing.T) {
	t.Parallel()
	k := loadKeys(t)
	f := resolver.NewFake()
	key := edKey(k)
	publish(t, f, key)
	msg := baseHeader + "Reply-To: joe@example.com\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHi.\r\n"
	tagSubject := func(m string) string { return strings.Replace(m, "Subject: ", "Subject: [list] ", 1) }
	mungeReplyTo := func(m string) string { return strings.Replace(m, "Reply-To: joe@", "Reply-To: list@", 1) }
	changeDate := func(m string) string { return strings.Replace(m, "21:00:37", "22:00:37", 1) }
	addList := func(m string) string { return "List-Id: <l.example.org>\r\n" + m }
	for _, tc := range []struct {
		name    string
		profile string
		change  func(string) string
		want    string
	}{
		{"default/subject tagged", ProfileDefault, tagSubject, dkim.Fail},
		{"default/reply-to munged", ProfileDefault, mungeReplyTo, dkim.Fail},
		{"default/list id added", ProfileDefault, addList, dkim.Pass},
		{"minimal/subject tagged", ProfileMinimal, tagSubject, dkim.Pass},
		{"minimal/reply-to munged", ProfileMinimal, mungeReplyTo, dkim.Pass},
		{"minimal/list id added", ProfileMinimal, addList, dkim.Pass},
		{"minimal/date changed", ProfileMinimal, changeDate, dkim.Fail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sigs := mustSign(t, []byte(msg), 4096, Options{Profile: tc.profile}, key)
			res := verify(t, f, prepend([]byte(tc.change(msg)), sigs), 4096, time.Time{})
			if len(res) != 1 || res[0].Result != tc.want {
				t.Fatalf("verify: %+v, want %s", res, tc.want)
			}
		})
	}
}
