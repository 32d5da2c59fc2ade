package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPublicSuffixListPath checks dmarc.public_suffix_list against real
// files: Parse must find a wrong path when the configuration is read.
func TestPublicSuffixListPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "public_suffix_list.dat")
	if err := os.WriteFile(good, []byte("// ===BEGIN ICANN DOMAINS===\ncom\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "current.dat")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling.dat")
	if err := os.Symlink(filepath.Join(dir, "gone"), dangling); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.dat")

	tests := []struct {
		name, path string
		want       string // "" for no error
	}{
		{"regular file", good, ""},
		{"symlink to a regular file", link, ""},
		{"built-in", "", ""},
		{"missing", missing, `t.toml:3: dmarc.public_suffix_list: cannot read "` + missing + `": no such file or directory`},
		{"dangling symlink", dangling, `t.toml:3: dmarc.public_suffix_list: cannot read "` + dangling + `": no such file or directory`},
		{"directory", dir, `t.toml:3: dmarc.public_suffix_list: "` + dir + `" is not a regular file`},
		{"device", "/dev/null", `t.toml:3: dmarc.public_suffix_list: "/dev/null" is not a regular file`},
		{"under a file", good + "/x", `t.toml:3: dmarc.public_suffix_list: cannot read "` + good + `/x": not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Accepted in both modes (rfc9989 uses the list for reports).
			for _, mode := range []string{"rfc9989", "rfc7489"} {
				src := "[dmarc]\nmode = \"" + mode + "\"\npublic_suffix_list = " + strconv.Quote(tt.path) + "\n"
				c, err := parseTest(src)
				if tt.want == "" {
					if err != nil {
						t.Fatalf("mode %s: %v", mode, err)
					}
					if c.DMARC.PublicSuffixList != tt.path || c.DMARC.Mode != mode {
						t.Errorf("mode %s: DMARC = %+v", mode, c.DMARC)
					}
					continue
				}
				if err == nil || err.Error() != tt.want || !errors.Is(err, ErrValue) {
					t.Errorf("mode %s: err = %v\nwant %s", mode, err, tt.want)
				}
			}
		})
	}
}

// TestPublicSuffixListUnreadable needs a file its owner cannot read, which
// root can read anyway.
func TestPublicSuffixListUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not apply")
	}
	p := filepath.Join(t.TempDir(), "psl.dat")
	if err := os.WriteFile(p, []byte("com\n"), 0o200); err != nil {
		t.Fatal(err)
	}
	_, err := parseTest("dmarc.public_suffix_list = " + strconv.Quote(p) + "\n")
	want := `t.toml:1: dmarc.public_suffix_list: cannot read "` + p + `": permission denied`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// TestLoadExampleWithSuffixList enables the Debian path shown in the
// example's prose when the file exists on this machine, so the example's
// advice is tested where it can be.
func TestLoadExampleWithSuffixList(t *testing.T) {
	t.Parallel()
	const debian = "/usr/share/publicsuffix/public_suffix_list.dat"
	src, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "#   public_suffix_list = \""+debian+"\"") {
		t.Fatalf("%s no longer shows %s", examplePath, debian)
	}
	if _, err := os.Stat(debian); err != nil {
		t.Skipf("%s not installed: %v", debian, err)
	}
	enabled := strings.Replace(string(src), `public_suffix_list = ""`, `public_suffix_list = "`+debian+`"`, 1)
	c, err := parseTest(enabled)
	if err != nil || c.DMARC.PublicSuffixList != debian {
		t.Errorf("example with %s: %v", debian, err)
	}
}
