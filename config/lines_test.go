package config

import (
	"reflect"
	"testing"

	"github.com/BurntSushi/toml"
)

// documentPaths lists the path of every key, table and array element of a
// decoded TOML value, built the way the decoder builds them.
func documentPaths(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := joinPath(path, k)
			out = append(out, p)
			out = append(out, documentPaths(p, e)...)
		}
	case []map[string]any:
		for i, e := range v {
			p := indexPath(path, i)
			out = append(out, p)
			out = append(out, documentPaths(p, e)...)
		}
	case []any:
		for i, e := range v {
			p := indexPath(path, i)
			out = append(out, p)
			out = append(out, documentPaths(p, e)...)
		}
	}
	return out
}

func TestKeyLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want map[string]int
	}{
		{"top-level and table", "a = 1\n\n[t]\nb = 2\n", map[string]int{"a": 1, "t": 3, "t.b": 4}},
		{"comments and CRLF", "# c\r\na = 1 # x = 2\r\n[t] # [u]\r\nb = 2\r\n", map[string]int{"a": 2, "t": 3, "t.b": 4}},
		{"dotted keys", "a.b.c = 1\n[t]\nx . \"y.z\" = 2\n", map[string]int{
			"a": 1, "a.b": 1, "a.b.c": 1, "t": 2, "t.x": 3, `t.x."y.z"`: 3,
		}},
		{"nested header", "[a.b]\nc = 1\n[a]\nd = 2\n", map[string]int{"a": 1, "a.b": 1, "a.b.c": 2, "a.d": 4}},
		{"quoted keys", "\"a b\" = 1\n'c.d' = 2\n\"\\u0041\\t\" = 3\n", map[string]int{`"a b"`: 1, `"c.d"`: 2, `"A\t"`: 3}},
		{"multi-line array", "x = [\n  1,\n  # two\n  \"2\",\n  [3, 4],\n]\ny = 1\n", map[string]int{
			"x": 1, "x[0]": 2, "x[1]": 4, "x[2]": 5, "x[2][0]": 5, "x[2][1]": 5, "y": 7,
		}},
		{"multi-line strings", "a = \"\"\"\none\ntwo \\\n  three\"\"\"\nb = '''\n[not]\nc = 1\n'''\nd = \"\"\"x\"\"\"\"\"\ne = 1\n", map[string]int{
			"a": 1, "b": 5, "d": 9, "e": 10,
		}},
		{"strings with brackets and hashes", "a = \"[x] # ]\"\nb = '# \\'\nc = [\"]\", '[']\nd = 1\n", map[string]int{
			"a": 1, "b": 2, "c": 3, "c[0]": 3, "c[1]": 3, "d": 4,
		}},
		{"escaped quote", "a = \"x\\\"y = 1\"\nb = 2\n", map[string]int{"a": 1, "b": 2}},
		{"inline tables", "t = { a = 1, b.c = { d = [1] } }\nu = {\n  e = 1,\n  f = 2,\n}\n", map[string]int{
			"t": 1, "t.a": 1, "t.b": 1, "t.b.c": 1, "t.b.c.d": 1, "t.b.c.d[0]": 1,
			"u": 2, "u.e": 3, "u.f": 4,
		}},
		{"arrays of tables", "[[k]]\na = 1\n[[k]]\nb = 2\n[k.sub]\nc = 3\n[[k.list]]\nd = 4\n[[k]]\n", map[string]int{
			"k": 1, "k[0]": 1, "k[0].a": 2, "k[1]": 3, "k[1].b": 4, "k[1].sub": 5, "k[1].sub.c": 6,
			"k[1].list": 7, "k[1].list[0]": 7, "k[1].list[0].d": 8, "k[2]": 9,
		}},
		{"array of inline tables", "k = [\n {a = 1},\n {a = 2},\n]\n", map[string]int{
			"k": 1, "k[0]": 2, "k[0].a": 2, "k[1]": 3, "k[1].a": 3,
		}},
		{"dates and numbers", "a = 1979-05-27 07:32:00Z\nb = [1979-05-27 07:32:00Z, 1e3]\nc = inf\n", map[string]int{
			"a": 1, "b": 2, "b[0]": 2, "b[1]": 2, "c": 3,
		}},
		{"empty", "", map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := keyLines(tt.src); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("keyLines:\n got %v\nwant %v", got, tt.want)
			}
			// The cases are valid TOML, and keyLines knows every
			// path of the decoded document.
			var doc map[string]any
			if _, err := toml.Decode(tt.src, &doc); err != nil {
				t.Fatalf("test input is not TOML: %v", err)
			}
			for _, p := range documentPaths("", doc) {
				if _, ok := tt.want[p]; !ok {
					t.Errorf("decoded path %q missing from want", p)
				}
			}
		})
	}
}

// TestKeyLinesInvalid feeds text the toml package rejects; keyLines must
// still return (Parse never calls it on such input, the fuzzer does).
func TestKeyLinesInvalid(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		"[", "[[", "a", "a =", "a = [", "a = {", "a = \"", "a = '''", `a = """\`, "= 1", "}{][",
		"a = {b = \n", "a = [1,,", "\"\\u12", "[a.\n", "a = \"\\",
	} {
		t.Run(src, func(t *testing.T) {
			t.Parallel()
			keyLines(src)
		})
	}
}

func TestPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, parent string
	}{
		{"a", ""},
		{"a.b", "a"},
		{"a[3]", "a"},
		{"a[3].b", "a[3]"},
		{"a[1][2]", "a[1]"},
		{`a."x.y"`, "a"},
		{`"x.[y]"`, ""},
		{`"x\"y".z`, `"x\"y"`},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			if got := parentPath(tt.path); got != tt.parent {
				t.Errorf("parentPath(%q) = %q, want %q", tt.path, got, tt.parent)
			}
		})
	}
	if got := joinPath(joinPath("", "a"), "b c"); got != `a."b c"` {
		t.Errorf("joinPath = %q", got)
	}
	if got := joinPath("", ""); got != `""` {
		t.Errorf("joinPath empty key = %q", got)
	}
	if got := indexPath("a", 2); got != "a[2]" {
		t.Errorf("indexPath = %q", got)
	}
}
