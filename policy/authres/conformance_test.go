package authres

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// confCase is one entry of testdata/authres-go-msgauth/authres-cases.yaml
// (see SOURCE.md there).
type confCase struct {
	Value      string `yaml:"value"`
	AuthservID string `yaml:"authserv_id"`
	Results    []struct {
		Method string    `yaml:"method"`
		Result string    `yaml:"result"`
		Reason string    `yaml:"reason"`
		Props  yaml.Node `yaml:"props"`
	} `yaml:"results"`
	FormatRoundtrip bool `yaml:"format_roundtrip"`
}

func (c confCase) want(t *testing.T) []Result {
	t.Helper()
	var out []Result
	for _, r := range c.Results {
		res := Result{Method: r.Method, Value: r.Result, Reason: r.Reason}
		// A mapping node keeps the properties in document order.
		for i := 0; i+1 < len(r.Props.Content); i += 2 {
			ptype, name, ok := strings.Cut(r.Props.Content[i].Value, ".")
			if !ok {
				t.Fatalf("bad property key %q", r.Props.Content[i].Value)
			}
			res.Props = append(res.Props, Property{Type: ptype, Name: name, Value: r.Props.Content[i+1].Value})
		}
		out = append(out, res)
	}
	return out
}

// Where we read go-msgauth's cases differently on purpose.
var (
	// An empty field has no authserv-id, which RFC 8601 §2.2 requires;
	// go-msgauth returns an empty id without error.
	confParseErrors = map[string]error{"": ErrMalformed}
	// We keep the CFWS comment after the result in Result.Comment;
	// go-msgauth has no such field and drops it.
	confComments = map[string]string{
		"example.com; auth=pass (cram-md5) smtp.auth=sender@example.com;": "cram-md5",
	}
	// Format output, unfolded, where it differs from go-msgauth's: it leaves
	// a trailing space after a result without properties, and writes the
	// reason bare when it is a token while we always quote it.
	confFormatDiffers = map[string]string{
		"example.com; dkim=none ":                                    " example.com; dkim=none",
		"example.com; spf=fail reason=bad smtp.mailfrom=example.net": ` example.com; spf=fail reason="bad" smtp.mailfrom=example.net`,
	}
)

func TestConformanceGoMsgauth(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/authres-go-msgauth/authres-cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []confCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) != 13 {
		t.Fatalf("read %d cases, want the 13 listed in SOURCE.md", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Value, func(t *testing.T) {
			t.Parallel()
			want := tc.want(t)
			id, got, err := Parse(tc.Value)
			if wantErr, ok := confParseErrors[tc.Value]; ok {
				if !errors.Is(err, wantErr) {
					t.Fatalf("Parse(%q) error = %v, want %v (deliberate deviation)", tc.Value, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.Value, err)
			}
			if id != tc.AuthservID {
				t.Errorf("authserv-id = %q, want %q", id, tc.AuthservID)
			}
			if c, ok := confComments[tc.Value]; ok {
				if len(got) == 0 || got[0].Comment != c {
					t.Errorf("comment not kept: %#v", got)
				}
				for i := range got {
					got[i].Comment = ""
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("results =\n%#v\nwant\n%#v", got, want)
			}
			if !tc.FormatRoundtrip {
				return
			}
			// go-msgauth does not fold; compare our output unfolded.
			f := Format(tc.AuthservID, want)
			wantF := " " + tc.Value
			if d, ok := confFormatDiffers[tc.Value]; ok {
				wantF = d
			}
			if unfolded := strings.ReplaceAll(f, "\r\n\t", " "); unfolded != wantF {
				t.Errorf("Format() unfolded = %q, want %q", unfolded, wantF)
			}
			id2, got2, err := Parse(f)
			if err != nil || id2 != tc.AuthservID || !reflect.DeepEqual(got2, want) {
				t.Errorf("Parse(Format()) = %q %#v %v", id2, got2, err)
			}
		})
	}
}
