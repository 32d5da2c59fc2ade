//go:build unix

package config

import (
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// TestPublicSuffixListFIFO checks that a FIFO is refused without being
// opened: opening one with no writer would block Parse forever.
func TestPublicSuffixListFIFO(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "psl.fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := parseTest("[dmarc]\npublic_suffix_list = " + strconv.Quote(p) + "\n")
	want := `t.toml:2: dmarc.public_suffix_list: "` + p + `" is not a regular file`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
