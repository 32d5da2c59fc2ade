// Package spftest loads the openspf/pyspf SPF conformance suites
// (rfc7208-tests.yml, rfc4408-tests.yml) into resolver.Fake zones, following
// the conventions of the reference driver (pyspf test/testspf.py, documented
// in policy/spf/testdata/SOURCE.md). It is a normal package, not a _test
// file, so that the spf unit tests and end-to-end tests (the same suite run
// through the daemon and a real DNS server) share one reading of the suite.
package spftest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/authmilter/authmilter/policy/spf"
	"github.com/authmilter/authmilter/resolver"
)

// ErrFormat reports a suite file that does not follow the expected layout.
var ErrFormat = errors.New("spftest: bad suite format")

// Scenario is one YAML document: a zone and the cases run against it.
type Scenario struct {
	Description string
	Tests       []Case
	// Zone answers the scenario's queries. It is shared by the scenario's
	// cases and safe for concurrent use.
	Zone *resolver.Fake
	// Records is the zone as RRs, in file order per owner, after the
	// driver's conversions (SPF copied to TXT, TIMEOUT resolved), for
	// exporting the zone to a real DNS server.
	Records []RR
}

// RR is one record of a scenario zone. Type is "TXT", "A", "AAAA", "MX",
// "PTR" or "CNAME"; TXT keeps its character-strings (Strings) since a real
// server must send them as such. Timeout marks a name (Type "" = every type)
// or a type at a name that must not answer.
type RR struct {
	Name    string
	Type    string
	Strings []string // TXT
	Value   string   // A, AAAA, PTR, CNAME target, MX exchange
	Pref    uint16   // MX
	Timeout bool
}

// Case is one test case.
type Case struct {
	Name        string
	Description string
	Spec        string
	Helo        string
	Host        string // client IP literal
	MailFrom    string // "" = null sender: check postmaster@<helo>
	// Results are the acceptable results, preferred first.
	Results []spf.Result
	// Explanation is the expected explanation, "" when not checked.
	// "DEFAULT" means the receiver's default explanation, which the
	// reference driver sets to the literal string "DEFAULT".
	Explanation string
}

// DefaultExplanation is the receiver default explanation the reference
// driver configures; cases expecting it say "explanation: DEFAULT".
const DefaultExplanation = "DEFAULT"

// Accepts reports whether r is one of the case's acceptable results.
func (c Case) Accepts(r spf.Result) bool {
	for _, x := range c.Results {
		if x == r {
			return true
		}
	}
	return false
}

// IP parses Host.
func (c Case) IP() net.IP { return net.ParseIP(c.Host) }

// Load reads a suite file.
func Load(path string) ([]Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("spftest: %w", err)
	}
	return Parse(data)
}

// Parse reads a suite from memory: a stream of YAML documents, each with
// description, tests (name -> case) and zonedata (owner -> list of RRs).
func Parse(data []byte) ([]Scenario, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var out []Scenario
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		sc, err := scenario(doc.Content[0])
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

func scenario(n *yaml.Node) (Scenario, error) {
	if n.Kind != yaml.MappingNode {
		return Scenario{}, fmt.Errorf("%w: line %d: scenario is not a mapping", ErrFormat, n.Line)
	}
	var sc Scenario
	sc.Zone = resolver.NewFake()
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "description":
			sc.Description = v.Value
		case "tests":
			for j := 0; j+1 < len(v.Content); j += 2 {
				c, err := testCase(v.Content[j].Value, v.Content[j+1])
				if err != nil {
					return Scenario{}, err
				}
				sc.Tests = append(sc.Tests, c)
			}
		case "zonedata":
			for j := 0; j+1 < len(v.Content); j += 2 {
				rrs, err := owner(v.Content[j].Value, v.Content[j+1])
				if err != nil {
					return Scenario{}, err
				}
				sc.Records = append(sc.Records, rrs...)
			}
		}
	}
	for _, rr := range sc.Records {
		addToFake(sc.Zone, rr)
	}
	return sc, nil
}

func testCase(name string, n *yaml.Node) (Case, error) {
	c := Case{Name: name}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		switch k {
		case "description":
			c.Description = v.Value
		case "spec":
			c.Spec = v.Value
		case "helo":
			c.Helo = v.Value
		case "host":
			c.Host = v.Value
		case "mailfrom":
			c.MailFrom = v.Value
		case "explanation":
			c.Explanation = v.Value
		case "result":
			if v.Kind == yaml.SequenceNode {
				for _, r := range v.Content {
					c.Results = append(c.Results, result(r.Value))
				}
			} else {
				c.Results = []spf.Result{result(v.Value)}
			}
		}
	}
	if len(c.Results) == 0 {
		return Case{}, fmt.Errorf("%w: line %d: case %s has no result", ErrFormat, n.Line, name)
	}
	if net.ParseIP(c.Host) == nil {
		return Case{}, fmt.Errorf("%w: line %d: case %s: bad host %q", ErrFormat, n.Line, name, c.Host)
	}
	return c, nil
}

// result maps the suite's result names, including the RFC 4408 draft names
// the reference driver translates (unknown, error).
func result(s string) spf.Result {
	switch s = strings.ToLower(s); s {
	case "unknown":
		return spf.PermError
	case "error":
		return spf.TempError
	}
	return spf.Result(s)
}

// owner converts one owner's RR list, applying the driver's rules: SPF
// (type 99) values are copied to TXT when the owner lists no TXT entry
// ("TXT: NONE" counts as one but adds nothing), those copies come last,
// and a bare TIMEOUT makes every type not listed before it time out.
func owner(name string, n *yaml.Node) ([]RR, error) {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	var rrs, spfCopies []RR
	haveTXT := false
	seen := map[string]bool{}
	timeoutAt := -1 // index in rrs where the bare TIMEOUT was
	for _, e := range n.Content {
		if e.Kind == yaml.ScalarNode && e.Value == "TIMEOUT" {
			if timeoutAt < 0 {
				timeoutAt = len(rrs)
			}
			continue
		}
		if e.Kind != yaml.MappingNode || len(e.Content) != 2 {
			return nil, fmt.Errorf("%w: line %d: zone entry for %s", ErrFormat, e.Line, name)
		}
		typ, v := strings.ToUpper(e.Content[0].Value), e.Content[1]
		if timeoutAt < 0 && v.Value != "NONE" {
			// "TXT: NONE" adds no record, so a later TIMEOUT still
			// applies to TXT (suite case txttimeout).
			seen[typ] = true
		}
		switch typ {
		case "TXT", "SPF":
			if typ == "TXT" {
				haveTXT = true
			}
			if v.Kind == yaml.ScalarNode && v.Value == "NONE" {
				continue
			}
			if v.Kind == yaml.ScalarNode && v.Value == "TIMEOUT" {
				rrs = append(rrs, RR{Name: name, Type: typ, Timeout: true})
				continue
			}
			var strs []string
			if v.Kind == yaml.SequenceNode {
				for _, s := range v.Content {
					strs = append(strs, s.Value)
				}
			} else {
				strs = []string{v.Value}
			}
			if typ == "SPF" {
				spfCopies = append(spfCopies, RR{Name: name, Type: "TXT", Strings: strs})
			} else {
				rrs = append(rrs, RR{Name: name, Type: "TXT", Strings: strs})
			}
		case "MX":
			if v.Kind != yaml.SequenceNode || len(v.Content) != 2 {
				return nil, fmt.Errorf("%w: line %d: MX must be [pref, host]", ErrFormat, e.Line)
			}
			pref, err := strconv.ParseUint(v.Content[0].Value, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: MX preference: %w", ErrFormat, e.Line, err)
			}
			rrs = append(rrs, RR{Name: name, Type: "MX", Pref: uint16(pref), Value: v.Content[1].Value})
		case "A", "AAAA", "PTR", "CNAME":
			if v.Value == "TIMEOUT" {
				rrs = append(rrs, RR{Name: name, Type: typ, Timeout: true})
				continue
			}
			if (typ == "A" || typ == "AAAA") && net.ParseIP(v.Value) == nil {
				return nil, fmt.Errorf("%w: line %d: bad address %q", ErrFormat, e.Line, v.Value)
			}
			rrs = append(rrs, RR{Name: name, Type: typ, Value: v.Value})
		default:
			return nil, fmt.Errorf("%w: line %d: unknown RR type %s", ErrFormat, e.Line, typ)
		}
	}
	if !haveTXT {
		rrs = append(rrs, spfCopies...)
	}
	if timeoutAt >= 0 {
		if len(seen) == 0 {
			rrs = append(rrs, RR{Name: name, Timeout: true})
		} else {
			// The driver answers a type only if an entry of that type
			// came before TIMEOUT; SPF copies to TXT come after it.
			for _, t := range []string{"TXT", "A", "AAAA", "MX", "PTR"} {
				if !seen[t] {
					rrs = append(rrs, RR{Name: name, Type: t, Timeout: true})
				}
			}
		}
	}
	return rrs, nil
}

func addToFake(f *resolver.Fake, rr RR) {
	if rr.Timeout {
		if rr.Type == "" {
			f.Timeout[rr.Name] = true
			return
		}
		if f.TimeoutTypes[rr.Name] == nil {
			f.TimeoutTypes[rr.Name] = map[string]bool{}
		}
		f.TimeoutTypes[rr.Name][rr.Type] = true
		return
	}
	switch rr.Type {
	case "TXT":
		// resolver.Resolver returns each record's strings concatenated
		// (RFC 7208 §3.3); a record with no strings is "".
		f.AddTXT(rr.Name, strings.Join(rr.Strings, ""))
	case "A", "AAAA":
		f.AddA(rr.Name, rr.Value)
	case "MX":
		f.AddMX(rr.Name, rr.Pref, rr.Value)
	case "PTR":
		f.PTR[rr.Name] = append(f.PTR[rr.Name], rr.Value)
	case "CNAME":
		f.CNAME[rr.Name] = rr.Value
	}
}
