package crlf

import "testing"

func TestAppend(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		prevCR bool
		want   string
	}{
		{"a\nb", false, "a\r\nb"},
		{"\n", true, "\n"}, // the CR ended the previous chunk
		{"\n", false, "\r\n"},
		{"a\r\nb\n\n", false, "a\r\nb\r\n\r\n"},
		{"\r\r\n", false, "\r\r\n"},
		{"", false, ""},
	} {
		got := string(Append(nil, []byte(tc.in), tc.prevCR))
		if got != tc.want || HasBareLF([]byte(tc.in), tc.prevCR) != (tc.in != tc.want) {
			t.Errorf("Append(%q, %v) = %q, want %q", tc.in, tc.prevCR, got, tc.want)
		}
	}
}

func TestAppendField(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Subject: hi\r\n", "Subject: hi\r\n"},
		{"Subject: hi", "Subject: hi\r\n"},
		{"To: a,\n b", "To: a,\r\n b\r\n"},
		// A continuation without leading whitespace cannot start a field.
		{"To: a,\nX-Evil: 1", "To: a,\r\n X-Evil: 1\r\n"},
	} {
		if got := string(AppendField(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("AppendField(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
