package dmarc

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"
)

func loadTestPSL(t testing.TB) PSL {
	t.Helper()
	f, err := os.Open("testdata/dmarc-public-suffix-list/public_suffix_list.dat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := LoadPSL(f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPSLVectors runs the list's own registrable-domain vectors
// (testdata/dmarc-public-suffix-list/tests.txt) against LoadPSL of the
// pinned list and against the built-in x/net list. Unicode inputs are
// converted to A-labels first, since DMARC works on A-labels.
func TestPSLVectors(t *testing.T) {
	t.Parallel()
	file := loadTestPSL(t)
	f, err := os.Open("testdata/dmarc-public-suffix-list/tests.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type vec struct{ in, want string }
	var vecs []vec
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("bad vector line %q", line)
		}
		vecs = append(vecs, vec{fields[0], fields[1]})
	}
	if len(vecs) != 78 {
		t.Fatalf("%d vectors, SOURCE.md says 78", len(vecs))
	}
	// Known differences of the built-in list, due to its age: none at
	// x/net v0.57.0. Add "input": "reason" here when a vector differs.
	builtinDiffers := map[string]string{}
	for _, list := range []struct {
		name    string
		psl     PSL
		differs map[string]string
	}{{"public_suffix_list.dat via LoadPSL", file, nil}, {"built-in x/net list", BuiltinPSL(), builtinDiffers}} {
		agree := 0
		for _, v := range vecs {
			in, want := v.in, v.want
			if in == "null" {
				in = ""
			}
			if want == "null" {
				want = ""
			}
			ain, err := toASCII(in)
			if err != nil {
				t.Fatalf("%s: %v", in, err)
			}
			awant, _ := toASCII(want)
			got := RegistrableDomain(list.psl, ain)
			reason, listed := list.differs[v.in]
			switch {
			case got == awant && !listed:
				agree++
			case got != awant && listed:
				t.Logf("%s: %s differs (%s)", list.name, v.in, reason)
			default:
				t.Errorf("%s: RegistrableDomain(%q) = %q, want %q", list.name, ain, got, awant)
			}
		}
		t.Logf("dmarc-public-suffix-list (%s): %d/%d", list.name, agree, len(vecs))
	}
}

func TestLoadPSL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantErr bool
		domain  string
		suffix  string
		icann   bool
	}{
		{"icann rule", "// ===BEGIN ICANN DOMAINS===\ncom\n// ===END ICANN DOMAINS===\n", false, "a.b.com", "com", true},
		{"private rule", "// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n", false, "x.blogspot.com", "blogspot.com", false},
		{"wildcard", "*.ck\n!www.ck\n", false, "a.b.ck", "b.ck", false},
		{"exception", "*.ck\n!www.ck\n", false, "a.www.ck", "ck", false},
		{"unicode rule", "公司.cn\ncn\n", false, "a.xn--55qx5d.cn", "xn--55qx5d.cn", false},
		{"unlisted tld", "com\n", false, "a.example", "example", false},
		{"trailing comment text", "com  some words\n", false, "a.com", "com", false},
		{"empty", "// nothing\n\n", true, "", "", false},
		{"bad wildcard", "a.*.com\n", true, "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := LoadPSL(strings.NewReader(tc.in))
			if tc.wantErr {
				if !errors.Is(err, ErrPSL) {
					t.Fatalf("err = %v, want ErrPSL", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, icann := l.PublicSuffix(tc.domain)
			if s != tc.suffix || icann != tc.icann {
				t.Errorf("PublicSuffix(%q) = %q %v, want %q %v", tc.domain, s, icann, tc.suffix, tc.icann)
			}
		})
	}
}
