package dmarc

import (
	"strings"

	"github.com/authmilter/authmilter/resolver"
)

// zone is a read-only map Source for tests (safe for parallel subtests).
// A name exists (RFC 8020) when it or a name below it has any record.
type zone struct {
	txt   map[string][]string // owner name → TXT records
	other map[string]bool     // owners of non-TXT records (MX, A)
	temp  map[string]bool     // TXT queries for these owners time out
	// exists overrides existence answers (true = SERVFAIL on the check).
	existsFail map[string]bool
}

func newZone() *zone {
	return &zone{txt: map[string][]string{}, other: map[string]bool{}, temp: map[string]bool{}, existsFail: map[string]bool{}}
}

// add adds TXT records at name.
func (z *zone) add(name string, txt ...string) *zone {
	name = canonical(name)
	z.txt[name] = append(z.txt[name], txt...)
	return z
}

// host marks name as owning a non-TXT record.
func (z *zone) host(name string) *zone {
	z.other[canonical(name)] = true
	return z
}

func canonical(n string) string { return strings.ToLower(strings.TrimSuffix(n, ".")) }

func (z *zone) TXT(name string) ([]string, error) {
	n := canonical(name)
	if z.temp[n] {
		return nil, resolver.Timeout(name)
	}
	if t, ok := z.txt[n]; ok && len(t) > 0 {
		return append([]string(nil), t...), nil
	}
	return nil, resolver.NotFound(name)
}

func (z *zone) Exists(name string) (bool, error) {
	n := canonical(name)
	if z.existsFail[n] {
		return false, resolver.Temporary(name, "server misbehaving")
	}
	for _, m := range []map[string]bool{z.other, keys(z.txt)} {
		for owner := range m {
			if owner == n || strings.HasSuffix(owner, "."+n) {
				return true, nil
			}
		}
	}
	return false, nil
}

func keys(m map[string][]string) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// txtOnly hides the ExistenceSource side of a zone.
type txtOnly struct{ z *zone }

func (t txtOnly) TXT(name string) ([]string, error) { return t.z.TXT(name) }
