package dkim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authmilter/authmilter/resolver"
)

// chunkSizes are the body chunk sizes every corpus message is driven with:
// one byte (every CR/LF pair split), an odd small size, and a milter-sized
// chunk.
var chunkSizes = []int{1, 7, 4096}

// splitMessage splits a raw message into header fields (each with its own
// line ends, folding kept) and the body, accepting CRLF or bare LF.
func splitMessage(t testing.TB, msg []byte) (fields [][]byte, body []byte) {
	t.Helper()
	rest := msg
	for len(rest) > 0 {
		end := bytes.IndexByte(rest, '\n')
		if end < 0 {
			t.Fatalf("header section not terminated")
		}
		line := rest[:end+1]
		if string(line) == "\r\n" || string(line) == "\n" {
			return fields, rest[end+1:]
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
		} else {
			fields = append(fields, append([]byte(nil), line...))
		}
		rest = rest[end+1:]
	}
	return fields, nil
}

// drive runs msg through a new Session, feeding the body in chunks of n.
func drive(t testing.TB, v *Verifier, msg []byte, n int) []Result {
	t.Helper()
	fields, body := splitMessage(t, msg)
	s := v.NewSession(context.Background())
	for _, f := range fields {
		s.Header(f)
	}
	s.EndHeaders()
	for len(body) > 0 {
		c := min(n, len(body))
		if err := s.Body(body[:c]); err != nil {
			t.Fatalf("Body: %v", err)
		}
		body = body[c:]
	}
	return s.Close()
}

// tokens returns the Result tokens of rs.
func tokens(rs []Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Result
	}
	return out
}

// driveAll drives msg with every chunk size and checks the results agree
// across sizes, returning the 1-byte results.
func driveAll(t *testing.T, v *Verifier, msg []byte) []Result {
	t.Helper()
	var first []Result
	for _, n := range chunkSizes {
		got := drive(t, v, msg, n)
		if first == nil && n == chunkSizes[0] {
			first = got
			continue
		}
		if strings.Join(tokens(got), ",") != strings.Join(tokens(first), ",") {
			t.Errorf("chunk size %d gave %v, chunk size %d gave %v", n, tokens(got), chunkSizes[0], tokens(first))
		}
	}
	return first
}

func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func readFile(t testing.TB, path ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadZone reads "name. TXT \"value\"" lines (the dkim-rfc-vectors and
// dkimpy record files) into f. A value of the form [data/x] names a file
// under dir.
func loadZone(t testing.TB, f *resolver.Fake, dir, file string) {
	t.Helper()
	loadZoneText(t, f, dir, string(readFile(t, dir, file)))
}
