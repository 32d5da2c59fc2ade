package spf

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestExpandRFCExamples checks the examples of RFC 7208 §7.4 verbatim.
func TestExpandRFCExamples(t *testing.T) {
	t.Parallel()
	env4 := &macroEnv{
		sender: "strong-bad@email.example.com", local: "strong-bad",
		senderDomain: "email.example.com", domain: "email.example.com",
		helo: "mx.example.org", ip: net.ParseIP("192.0.2.3").To4(),
	}
	env6 := *env4
	env6.ip = net.ParseIP("2001:db8::cb01")
	tests := []struct {
		in, want string
		env      *macroEnv
	}{
		{"%{s}", "strong-bad@email.example.com", env4},
		{"%{o}", "email.example.com", env4},
		{"%{d}", "email.example.com", env4},
		{"%{d4}", "email.example.com", env4},
		{"%{d3}", "email.example.com", env4},
		{"%{d2}", "example.com", env4},
		{"%{d1}", "com", env4},
		{"%{dr}", "com.example.email", env4},
		{"%{d2r}", "example.email", env4},
		{"%{l}", "strong-bad", env4},
		{"%{l-}", "strong.bad", env4},
		{"%{lr}", "strong-bad", env4},
		{"%{lr-}", "bad.strong", env4},
		{"%{l1r-}", "strong", env4},
		{"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com", env4},
		{"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com", env4},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com", env4},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com", env4},
		{"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net", env4},
		{"%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com", &env6},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := expandMacros(tt.in, tt.env, false)
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestExpandMacros(t *testing.T) {
	t.Parallel()
	env := &macroEnv{
		sender: "~jack&jill=up-a_b3.c@example.com", local: "~jack&jill=up-a_b3.c",
		senderDomain: "example.com", domain: "sub.example.com", helo: "JUMPIN' JUPITER",
		ip: net.ParseIP("192.0.2.3").To4(), receiver: "mx.example.net",
		now: time.Unix(1234567890, 0),
		ptr: func() string { return "host.example.com" },
	}
	envNoRecv := *env
	envNoRecv.receiver = ""
	envNoRecv.ptr = nil
	env6 := *env
	env6.ip = net.ParseIP("2001:DB8::1")
	tests := []struct {
		name, in string
		exp      bool
		env      *macroEnv
		want     string
		wantErr  error
	}{
		{name: "literals", in: "macro%%percent%_%_space%-url", env: env, want: "macro%percent  space%20url"},
		{name: "url escape", in: "%{L}", env: env, want: "~jack%26jill%3Dup-a_b3.c"},
		{name: "helo escape", in: "%{H}.bar", env: env, want: "JUMPIN%27%20JUPITER.bar"},
		{name: "upper transform", in: "%{D2R}", env: env, want: "example.sub"},
		{name: "multiple delimiters", in: "%{l2r=-}", env: env, want: "up.~jack&jill"},
		{name: "digits beyond parts", in: "%{d99}", env: env, want: "sub.example.com"},
		{name: "huge digits", in: "%{d99999999999999999999}", env: env, want: "sub.example.com"},
		{name: "p", in: "%{p}", env: env, want: "host.example.com"},
		{name: "p without resolver", in: "%{p}", env: &envNoRecv, want: "unknown"},
		{name: "v4", in: "%{v} %{i} %{c}", exp: true, env: env, want: "in-addr 192.0.2.3 192.0.2.3"},
		{name: "v6", in: "%{v} %{c}", exp: true, env: &env6, want: "ip6 2001:db8::1"},
		{name: "i6", in: "%{i}", env: &env6, want: "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1"},
		{name: "r t", in: "%{r} at %{t}", exp: true, env: env, want: "mx.example.net at 1234567890"},
		{name: "r unknown", in: "%{r}", exp: true, env: &envNoRecv, want: "unknown"},
		{name: "trailing dot kept", in: "This is a test.", exp: true, env: env, want: "This is a test."},
		{name: "space outside exp", in: "a b", env: env, wantErr: ErrMacro},
		{name: "c outside exp", in: "%{c}", env: env, wantErr: ErrMacro},
		{name: "t outside exp", in: "%{t}", env: env, wantErr: ErrMacro},
		{name: "zero digits", in: "%{d0}", env: env, wantErr: ErrMacro},
		{name: "bad letter", in: "%{x}", exp: true, env: env, wantErr: ErrMacro},
		{name: "bad delimiter", in: "%{d;}", env: env, wantErr: ErrMacro},
		{name: "r twice", in: "%{drr}", env: env, wantErr: ErrMacro},
		{name: "unterminated", in: "%{d", env: env, wantErr: ErrMacro},
		{name: "empty braces", in: "%{}", env: env, wantErr: ErrMacro},
		{name: "lone percent", in: "abc%", env: env, wantErr: ErrMacro},
		{name: "percent letter", in: "%abc", env: env, wantErr: ErrMacro},
		{name: "non ascii", in: "\u00efExplanation", exp: true, env: env, wantErr: ErrMacro},
		{name: "control", in: "a\rb", exp: true, env: env, wantErr: ErrMacro},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expandMacros(tt.in, tt.env, tt.exp)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("expand(%q) = %q, %v; want error %v", tt.in, got, err, tt.wantErr)
				}
				if checkErr := checkMacroString(tt.in, tt.exp); checkErr == nil {
					t.Errorf("checkMacroString(%q) accepted what expansion rejects", tt.in)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestExpandBounded checks that a hostile macro-string cannot build an
// unbounded string.
func TestExpandBounded(t *testing.T) {
	t.Parallel()
	long := make([]byte, 250)
	for i := range long {
		long[i] = 'a'
	}
	env := &macroEnv{sender: string(long) + "@x.example", local: string(long), ip: net.IPv4(192, 0, 2, 1).To4()}
	in := ""
	for range 100 {
		in += "%{s}"
	}
	if _, err := expandMacros(in, env, false); !errors.Is(err, ErrMacro) {
		t.Fatalf("expansion of 100 x %%{s} with a 260-octet sender: err = %v, want ErrMacro", err)
	}
}

func TestTruncateName(t *testing.T) {
	t.Parallel()
	label := "somewhat.long.exp.example.com"
	name := "foobar"
	for range 8 {
		name += "." + label
	}
	name += ".example.com"
	want := name[len("foobar."):]
	if got := truncateName(name); got != want {
		t.Errorf("truncateName = %q (%d), want %q", got, len(got), want)
	}
	if got := truncateName("short.example"); got != "short.example" {
		t.Errorf("short name changed: %q", got)
	}
}

func BenchmarkExpand(b *testing.B) {
	env := &macroEnv{
		sender: "strong-bad@email.example.com", local: "strong-bad",
		senderDomain: "email.example.com", domain: "email.example.com",
		ip: net.ParseIP("2001:db8::cb01"),
	}
	for b.Loop() {
		if _, err := expandMacros("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", env, false); err != nil {
			b.Fatal(err)
		}
	}
}
