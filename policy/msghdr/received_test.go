package msghdr

import (
	"errors"
	"net"
	"strings"
	"testing"
)

func TestParseReceived(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  Hop
	}{
		{"postfix", "from mail.example.org (mail.example.org [192.0.2.10])\r\n\tby mx.example.net (Postfix) with ESMTPS id ABC123\r\n\tfor <a@b.example>; Tue, 1 Dec 2026 02:00:00 +0000 (UTC)",
			Hop{Helo: "mail.example.org", IP: net.ParseIP("192.0.2.10").To4(), RDNS: "mail.example.org", By: "mx.example.net", With: "ESMTPS", ID: "ABC123"}},
		{"postfix unknown rdns", "from helo.example (unknown [198.51.100.7]) by mx.example.net (Postfix) with ESMTP id 4Zx; Tue, 1 Dec 2026 02:00:00 +0000",
			Hop{Helo: "helo.example", IP: net.ParseIP("198.51.100.7").To4(), By: "mx.example.net", With: "ESMTP", ID: "4Zx"}},
		{"postfix TLS and auth comments", "from client.example (host.example [192.0.2.5])\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n\t(No client certificate requested)\n\t(Authenticated sender: [203.0.113.66])\n\tby mx.example.net (Postfix) with ESMTPSA id 1A2B3C\n\tfor <x@y.example>; Tue, 1 Dec 2026 02:00:00 +0000 (UTC)",
			Hop{Helo: "client.example", IP: net.ParseIP("192.0.2.5").To4(), RDNS: "host.example", By: "mx.example.net", With: "ESMTPSA", ID: "1A2B3C"}},
		{"postfix IPv6", "from helo.example (host.example [IPv6:2001:db8::1]) by mx.example.net (Postfix) with ESMTPS id X; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("2001:db8::1"), RDNS: "host.example", By: "mx.example.net", With: "ESMTPS", ID: "X"}},
		{"postfix port logging", "from helo.example (unknown [192.0.2.1]:45678) by mx (Postfix) with SMTP id Q; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.1").To4(), By: "mx", With: "SMTP", ID: "Q"}},
		{"postfix literal helo", "from [203.0.113.9] (unknown [192.0.2.1]) by mx (Postfix) with SMTP id Q; date",
			Hop{Helo: "[203.0.113.9]", IP: net.ParseIP("192.0.2.1").To4(), By: "mx", With: "SMTP", ID: "Q"}},
		{"sendmail", "from helo.example (host.example [192.0.2.20])\n\tby mx.example.net (8.17.1/8.17.1) with ESMTPS id 5B12abcd001234\n\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)\n\tfor <u@example.net>; Tue, 1 Dec 2026 02:00:00 GMT",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.20").To4(), RDNS: "host.example", By: "mx.example.net", With: "ESMTPS", ID: "5B12abcd001234"}},
		{"sendmail may be forged", "from helo.example (host.example [192.0.2.21] (may be forged)) by mx.example.net (8.17.1/8.17.1) with ESMTP id abc; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.21").To4(), By: "mx.example.net", With: "ESMTP", ID: "abc"}},
		{"sendmail no rdns", "from helo.example ([192.0.2.22]) by mx.example.net (8.17.1/8.17.1) with ESMTP id abc for <a@[192.0.2.99]>; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.22").To4(), By: "mx.example.net", With: "ESMTP", ID: "abc"}},
		{"sendmail IPv6", "from helo.example (host.example [IPv6:2001:db8:1::5]) by mx (8.17.1/8.17.1) with ESMTP id abc; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("2001:db8:1::5"), RDNS: "host.example", By: "mx", With: "ESMTP", ID: "abc"}},
		{"sendmail ident", "from helo.example (user@host.example [192.0.2.23]) by mx with ESMTP id abc; date",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.23").To4(), RDNS: "host.example", By: "mx", With: "ESMTP", ID: "abc"}},
		{"exim with rdns", "from host.example ([192.0.2.30]:52436 helo=helo.example)\n\tby mx.example.net with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n\t(Exim 4.97)\n\t(envelope-from <a@b.example>)\n\tid 1tABCD-000123-4X; Tue, 01 Dec 2026 02:00:00 +0000",
			Hop{Helo: "helo.example", IP: net.ParseIP("192.0.2.30").To4(), RDNS: "host.example", By: "mx.example.net", With: "esmtps", ID: "1tABCD-000123-4X"}},
		{"exim no rdns", "from [192.0.2.1] (helo=x.example) by mx.example.net with esmtp (Exim 4.97) id 1tA-B; date",
			Hop{Helo: "x.example", IP: net.ParseIP("192.0.2.1").To4(), By: "mx.example.net", With: "esmtp", ID: "1tA-B"}},
		{"exim literal helo is not the address", "from [192.0.2.1] (helo=[203.0.113.5]) by mx with esmtp id 1; date",
			Hop{Helo: "[203.0.113.5]", IP: net.ParseIP("192.0.2.1").To4(), By: "mx", With: "esmtp", ID: "1"}},
		{"exim helo equals name", "from host.example ([192.0.2.31]) by mx with esmtp id 2; date",
			Hop{Helo: "host.example", IP: net.ParseIP("192.0.2.31").To4(), By: "mx", With: "esmtp", ID: "2"}},
		{"exim IPv6 bare in brackets", "from [2001:db8::7] (port=3333 helo=h.example) by mx with esmtp id 3; date",
			Hop{Helo: "h.example", IP: net.ParseIP("2001:db8::7"), By: "mx", With: "esmtp", ID: "3"}},
		{"microsoft", "from BN8PR12MB3456.namprd12.prod.outlook.com (2603:10b6:408:6c::12)\r\n by SN6PR12MB2765.namprd12.prod.outlook.com (2603:10b6:805:72::24) with\r\n Microsoft SMTP Server (version=TLS1_2,\r\n cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6838.28; Tue, 1 Dec\r\n 2026 02:00:00 +0000",
			Hop{Helo: "BN8PR12MB3456.namprd12.prod.outlook.com", IP: net.ParseIP("2603:10b6:408:6c::12"), By: "SN6PR12MB2765.namprd12.prod.outlook.com", With: "Microsoft SMTP Server", ID: "15.20.6838.28"}},
		{"microsoft IPv4", "from EXCH01.corp.example (10.0.0.5) by EXCH02.corp.example (10.0.0.6) with Microsoft SMTP Server (TLS) id 15.1.2507.6; date",
			Hop{Helo: "EXCH01.corp.example", IP: net.ParseIP("10.0.0.5").To4(), By: "EXCH02.corp.example", With: "Microsoft SMTP Server", ID: "15.1.2507.6"}},
		{"qmail", "from unknown (HELO mail.example.org) (192.0.2.40) by mx.example.net with SMTP; 1 Dec 2026 02:00:00 -0000",
			Hop{Helo: "mail.example.org", IP: net.ParseIP("192.0.2.40").To4(), By: "mx.example.net", With: "SMTP"}},
		{"courier mapped IPv4", "from host.example (host.example [::ffff:192.0.2.50]) (AUTH: LOGIN u) by mx with ESMTPSA; date",
			Hop{Helo: "host.example", IP: net.ParseIP("192.0.2.50").To4(), RDNS: "host.example", By: "mx", With: "ESMTPSA"}},
		{"no comment, literal", "from [192.0.2.60] by mx with SMTP; date",
			Hop{Helo: "[192.0.2.60]", IP: net.ParseIP("192.0.2.60").To4(), By: "mx", With: "SMTP"}},
		{"case and leading space", "  FROM helo (rdns [192.0.2.61]) BY mx WITH smtp ID z; date",
			Hop{Helo: "helo", IP: net.ParseIP("192.0.2.61").To4(), RDNS: "rdns", By: "mx", With: "smtp", ID: "z"}},
		{"hostile helo with parenthesis", "from x([203.0.113.1]) (unknown [192.0.2.70]) by mx (Postfix) with SMTP id Q; date",
			Hop{Helo: "x([203.0.113.1])", IP: net.ParseIP("192.0.2.70").To4(), By: "mx", With: "SMTP", ID: "Q"}},
		{"nested comments", "from h (r [192.0.2.71] (a (b) \\) c)) by mx with SMTP id Q; date",
			Hop{Helo: "h", IP: net.ParseIP("192.0.2.71").To4(), RDNS: "r", By: "mx", With: "SMTP", ID: "Q"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceived(tc.value)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !got.IP.Equal(tc.want.IP) || len(got.IP) != len(tc.want.IP) {
				t.Errorf("IP = %v (%d bytes), want %v (%d bytes)", got.IP, len(got.IP), tc.want.IP, len(tc.want.IP))
			}
			type names struct{ Helo, RDNS, By, With, ID string }
			g := names{got.Helo, got.RDNS, got.By, got.With, got.ID}
			w := names{tc.want.Helo, tc.want.RDNS, tc.want.By, tc.want.With, tc.want.ID}
			if g != w {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseReceivedRefused(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value string }{
		{"empty", ""},
		{"no from clause", "by mx.example.net (Postfix) with ESMTP id X for <a@[192.0.2.1]>; date"},
		{"from without address", "from helo.example by mx.example.net with SMTP; date"},
		{"IP only in for clause", "from helo.example by mx with SMTP id X for <u@[192.0.2.1]>; date"},
		{"IP only in by clause", "from helo.example by mx ([192.0.2.2]) with SMTP; date"},
		{"IP only in later comment", "from helo.example (no address here) (Authenticated sender: [192.0.2.3]) by mx; date"},
		{"IP only in helo=", "from helo.example (helo=[192.0.2.4]) by mx with esmtp; date"},
		{"bracketed garbage", "from helo.example (rdns [not-an-ip]) by mx; date"},
		{"bracketed hostname", "from helo.example (rdns [mail.example]) by mx; date"},
		{"bad IPv6 tag", "from helo.example (rdns [IPv6:192.0.2.1]) by mx; date"},
		{"zone index", "from helo.example (rdns [IPv6:fe80::1%eth0]) by mx; date"},
		{"garbage after literal", "from helo.example (rdns [192.0.2.1]x) by mx; date"},
		{"bad port", "from helo.example (rdns [192.0.2.1]:99999999) by mx; date"},
		{"two literals", "from helo.example (a [192.0.2.1] [192.0.2.2]) by mx; date"},
		{"unterminated comment", "from helo.example (rdns [192.0.2.1] by mx; date"},
		{"unterminated bracket", "from helo.example (rdns [192.0.2.1) by mx; date"},
		{"comment not after from word", "from helo.example by mx (rdns [192.0.2.1]); date"},
		{"bare word not an IP", "from helo.example (rdns) by mx; date"},
		{"bare IP with garbage", "from helo.example (192.0.2.1 x) by mx; date"},
		{"qmail without address", "from unknown (HELO x) by mx; date"},
		{"fromish word", "fromage (x [192.0.2.1]) by mx; date"},
		{"from literal garbage", "from [192.0.2.300] by mx; date"},
		{"from alone", "from "},
		{"comment as from word", "from (x [192.0.2.1]) by mx; date"},
		{"256 KiB of open parentheses", "from h " + strings.Repeat("(", 256<<10)},
		{"256 KiB of literals", "from h (" + strings.Repeat("[192.0.2.1] ", 20<<10) + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := ParseReceived(tc.value)
			if !errors.Is(err, ErrUnparseable) {
				t.Fatalf("got %+v, %v; want ErrUnparseable", h, err)
			}
			if h.IP != nil {
				t.Errorf("IP %v returned with an error", h.IP)
			}
			if !strings.HasPrefix(err.Error(), "msghdr: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func FuzzParseReceived(f *testing.F) {
	f.Add("from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net (Postfix) with ESMTPS id ABC for <a@b>; date")
	f.Add("from [192.0.2.1] (helo=x) by mx with esmtp id 1; date")
	f.Add("from X (2603:10b6:408:6c::12) by Y (2603:10b6:805:72::24) with Microsoft SMTP Server id 15.20; date")
	f.Add("from h (r [IPv6:2001:db8::1] (may be forged)) by mx; date")
	f.Add("from unknown (HELO x) (192.0.2.40) by mx with SMTP; date")
	f.Add("from h ((((\\) [1.2.3.4]:25")
	f.Fuzz(func(t *testing.T, v string) {
		h, err := ParseReceived(v)
		if err != nil {
			if !errors.Is(err, ErrUnparseable) {
				t.Fatalf("error %v does not wrap ErrUnparseable", err)
			}
			if h.IP != nil {
				t.Fatalf("IP %v with error", h.IP)
			}
			return
		}
		if h.IP == nil || (len(h.IP) != 4 && len(h.IP) != 16) {
			t.Fatalf("bad IP %v", h.IP)
		}
		if len(h.IP) == 16 && h.IP.To4() != nil {
			t.Fatalf("IPv4 address %v not in 4-byte form", h.IP)
		}
		// The address must be written in the from clause, before any by.
		from := strings.ToLower(v)
		if i := strings.Index(from, " by "); i >= 0 {
			from = from[:i]
		}
		s := h.IP.String()
		if !strings.Contains(from, strings.ToLower(s)) && !strings.Contains(v, "::") && !strings.Contains(v, ":0") && !strings.Contains(v, ":ffff:") && !strings.Contains(v, ":FFFF:") {
			t.Fatalf("address %s not written in the from clause of %q", s, v)
		}
		if h.Helo == "" {
			t.Fatalf("empty HELO for %q", v)
		}
	})
}
