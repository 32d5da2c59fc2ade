package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/authmilter/authmilter/e2e"
)

// ErrPeer is a failure to run a peer implementation at all (as opposed to
// the peer running and judging a signature bad, which is a result).
var ErrPeer = errors.New("interop: peer")

// The peers' programs, by their Debian paths. dkimpy's scripts run under
// the system Python (/usr/bin/python3): a python3 earlier in PATH (pyenv)
// would not have the Debian modules.
const (
	pythonCmd   = "/usr/bin/python3"
	dkimsignCmd = "/usr/bin/dkimsign"          // python3-dkim
	opendkimCmd = "/usr/sbin/opendkim"         // opendkim
	testmsgCmd  = "/usr/sbin/opendkim-testmsg" // opendkim-tools
)

// CheckPeers reports (wrapping e2e.ErrMissingTool) which peer programs are
// missing: python3-dkim (dkimpy: dkimsign, and the dkim module the verify
// wrapper imports) and opendkim with opendkim-tools. scripts/test installs
// them.
func CheckPeers() error {
	var missing []string
	for _, p := range []string{pythonCmd, dkimsignCmd, opendkimCmd, testmsgCmd} {
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		// The Debian python3-dkim package brings dnspython, which the
		// wrapper points at the test's DNS server.
		if out, err := exec.Command(pythonCmd, "-c", "import dkim, dkim.dkimverify, dns.resolver").CombinedOutput(); err != nil {
			missing = append(missing, fmt.Sprintf("python modules dkim and dns (%v: %s)", err, bytes.TrimSpace(out)))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s (scripts/test installs the Debian packages python3-dkim, opendkim and opendkim-tools)",
			e2e.ErrMissingTool, strings.Join(missing, ", "))
	}
	return nil
}

// dkimverifyWrapper runs dkimpy's own dkimverify program (dkim.dkimverify.
// main: its message parsing, its verification and its DNS lookup through
// dkim.dnsplug) with one change: dnspython's default resolver, which
// dkim.dnsplug asks, is pointed at the test's DNS server instead of the
// servers of /etc/resolv.conf. dnspython reads no environment variable for
// this, hence the wrapper. Arguments: server IP, port, then dkimverify's
// own (--index N). dkimverify prints "signature ok" (exit 0) or "signature
// verification failed" (exit 1).
const dkimverifyWrapper = `import sys
import dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
r.lifetime = 5
dns.resolver.default_resolver = r
from dkim.dkimverify import main
sys.argv = ["dkimverify"] + sys.argv[3:]
main()
`

// PeerResult is what a peer verifier said about one signature.
type PeerResult struct {
	// Pass is the peer's verdict.
	Pass bool
	// Output is the peer's complete output, for failure reports.
	Output string
}

// DkimpyVerify verifies the index-th DKIM-Signature field of msg (0 is the
// topmost) with dkimpy, looking keys up at dnsAddr ("127.0.0.1:PORT").
func DkimpyVerify(ctx context.Context, dnsAddr string, msg []byte, index int) (PeerResult, error) {
	host, port, err := net.SplitHostPort(dnsAddr)
	if err != nil {
		return PeerResult{}, fmt.Errorf("%w: dns address %q: %v", ErrPeer, dnsAddr, err)
	}
	cmd := exec.CommandContext(ctx, pythonCmd, "-c", dkimverifyWrapper, host, port, "--index", fmt.Sprint(index))
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	res := PeerResult{Output: string(out)}
	var ee *exec.ExitError
	switch {
	case err == nil && strings.Contains(res.Output, "signature ok"):
		res.Pass = true
	case errors.As(err, &ee) && ee.ExitCode() == 1 && strings.Contains(res.Output, "signature verification failed"):
	case errors.As(err, &ee) && ee.ExitCode() == 1 && dkimpyVerdict(res.Output):
		// dkimverify does not catch what DKIM.verify raises for a
		// mismatched body hash or a bad signature field: a traceback
		// ending in dkim.ValidationError (or another dkim.*Error) is
		// dkimpy's "fail" all the same.
	default:
		// A traceback (a bad key record, a DNS timeout) is a failure to
		// verify too, but say what happened.
		return res, fmt.Errorf("%w: dkimverify: %v\n%s", ErrPeer, err, out)
	}
	return res, nil
}

// dkimpyVerdict reports whether a dkimverify traceback ends in one of
// dkimpy's own verification exceptions (dkim.ValidationError,
// dkim.KeyFormatError, ...), that is, a verdict rather than a crash.
func dkimpyVerdict(output string) bool {
	lines := strings.Split(strings.TrimSpace(output), "\n")
	last := lines[len(lines)-1]
	return strings.HasPrefix(last, "dkim.") && strings.Contains(last, "Error") && !strings.HasPrefix(last, "dkim.DnsTimeoutError")
}

// DkimpySign signs msg with dkimpy's dkimsign for domain/selector with the
// key in keyFile (PEM for RSA; base64 of the 32-byte seed for Ed25519, as
// dkimpy's dknewkey writes it). alg is "rsa-sha256" or "ed25519-sha256";
// canon is "header/body". It returns the signed message.
func DkimpySign(ctx context.Context, msg []byte, domain, selector, keyFile, alg, canon string) ([]byte, error) {
	hc, bc, ok := strings.Cut(canon, "/")
	if !ok {
		return nil, fmt.Errorf("%w: canonicalization %q is not header/body", ErrPeer, canon)
	}
	cmd := exec.CommandContext(ctx, dkimsignCmd, "--signalg", alg, "--hcanon", hc, "--bcanon", bc, selector, domain, keyFile)
	cmd.Stdin = bytes.NewReader(msg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: dkimsign: %v: %s", ErrPeer, err, stderr.Bytes())
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("DKIM-Signature:")) {
		return nil, fmt.Errorf("%w: dkimsign printed no signature: %q", ErrPeer, stdout.Bytes())
	}
	return stdout.Bytes(), nil
}

// OpenDKIM runs the opendkim filter in its test mode (opendkim(8) -t: the
// message goes through the filter's own milter callbacks, without an MTA),
// with a configuration file of the test's: the filter's real signing and
// verifying code, its real resolver (libunbound, compiled in on Debian)
// pointed at the test's DNS server by the Nameservers setting, which
// libunbound takes as "IP@PORT".
type OpenDKIM struct {
	// Dir is a directory for the configuration and message files.
	Dir string
	// DNSAddr is the DNS server, "127.0.0.1:PORT".
	DNSAddr string
}

// conf writes an opendkim.conf with lines and returns its path.
func (o OpenDKIM) conf(name string, lines ...string) (string, error) {
	host, port, err := net.SplitHostPort(o.DNSAddr)
	if err != nil {
		return "", fmt.Errorf("%w: dns address %q: %v", ErrPeer, o.DNSAddr, err)
	}
	all := append([]string{
		"Syslog no",
		"Nameservers " + host + "@" + port,
		"DNSTimeout 5",
	}, lines...)
	p := filepath.Join(o.Dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(all, "\n")+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("%w: %v", ErrPeer, err)
	}
	return p, nil
}

// run runs `opendkim -x conf -t file` on msg and returns its standard
// output and standard error.
func (o OpenDKIM) run(ctx context.Context, conf, name string, msg []byte, verbose bool) (stdout, stderr string, err error) {
	file := filepath.Join(o.Dir, name)
	if err := os.WriteFile(file, msg, 0o600); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrPeer, err)
	}
	args := []string{"-x", conf, "-t", file}
	if verbose {
		args = append(args, "-vv")
	}
	cmd := exec.CommandContext(ctx, opendkimCmd, args...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return so.String(), se.String(), fmt.Errorf("%w: opendkim -t: %v\nstdout:\n%s\nstderr:\n%s", ErrPeer, err, so.Bytes(), se.Bytes())
	}
	return so.String(), se.String(), nil
}

// Verify verifies every signature of msg with OpenDKIM and returns the
// Authentication-Results field it would add (its authserv-id is
// "opendkim.test"): one dkim= result per signature. name is a file name
// for the message, unique within Dir.
func (o OpenDKIM) Verify(ctx context.Context, name string, msg []byte) (*e2e.AuthResults, string, error) {
	conf, err := o.conf(name+".verify.conf",
		"Mode v",
		"AuthservID opendkim.test",
		"AlwaysAddARHeader yes")
	if err != nil {
		return nil, "", err
	}
	stdout, stderr, err := o.run(ctx, conf, name, msg, true)
	output := "stdout:\n" + stdout + "\nstderr:\n" + stderr
	if err != nil {
		return nil, output, err
	}
	v, err := testModeAuthResults(stdout)
	if err != nil {
		return nil, output, fmt.Errorf("%w\n%s", err, output)
	}
	ar, err := e2e.ParseAuthResults(v)
	if err != nil {
		return nil, output, fmt.Errorf("%w: opendkim's Authentication-Results %q: %v", ErrPeer, v, err)
	}
	return ar, output, nil
}

// Sign signs msg with OpenDKIM for domain/selector with the PEM key in
// keyFile, algorithm alg ("rsa-sha256", "ed25519-sha256") and
// canonicalization canon, and returns the message with the DKIM-Signature
// field it made prepended, as the MTA would insert it.
//
// opendkim-testmsg cannot be used for this: it has no option for the
// algorithm and signs with rsa-sha1 (which RFC 8301 forbids), and fails on
// Ed25519 keys; the filter's test mode takes the whole configuration.
func (o OpenDKIM) Sign(ctx context.Context, name string, msg []byte, domain, selector, keyFile, alg, canon string) ([]byte, error) {
	conf, err := o.conf(name+".sign.conf",
		"Mode s",
		"Domain "+domain,
		"Selector "+selector,
		"KeyFile "+keyFile,
		"SignatureAlgorithm "+alg,
		"Canonicalization "+canon,
		// The key sits in a test directory under /tmp, which is
		// world-writable: OpenDKIM's check of the key's path (all
		// directories up to / safe) would refuse it.
		"RequireSafeKeys no")
	if err != nil {
		return nil, err
	}
	stdout, stderr, err := o.run(ctx, conf, name, msg, false)
	if err != nil {
		return nil, err
	}
	field, err := testModeSignature(stdout)
	if err != nil {
		return nil, fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	return append([]byte(field+"\r\n"), msg...), nil
}

// testModeAuthResults returns the value of the Authentication-Results
// field in the output of opendkim's test mode, unfolded. Test mode prints
// each header change as
//
//	### INSHEADER: idx=0 hname='Authentication-Results' hvalue='VALUE'
//
// with VALUE folded over several lines.
func testModeAuthResults(stdout string) (string, error) {
	const marker = "hname='Authentication-Results' hvalue='"
	i := strings.Index(stdout, marker)
	if i < 0 {
		return "", fmt.Errorf("%w: opendkim added no Authentication-Results", ErrPeer)
	}
	v := stdout[i+len(marker):]
	j := strings.Index(v, "'\n")
	if j < 0 {
		j = strings.LastIndexByte(v, '\'')
	}
	if j < 0 {
		return "", fmt.Errorf("%w: unterminated Authentication-Results in opendkim output", ErrPeer)
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\t", " ").Replace(v[:j]), nil
}

// testModeSignature returns the DKIM-Signature field that opendkim's test
// mode printed in signing mode, folded with CRLF: it follows an
// "opendkim: FILE:" line, folded with tabs (lines ending in CR LF when the
// message's do), and ends at the first line not starting with white space.
func testModeSignature(stdout string) (string, error) {
	i := strings.Index(stdout, "DKIM-Signature:")
	if i < 0 {
		return "", fmt.Errorf("%w: opendkim made no signature", ErrPeer)
	}
	lines := strings.Split(stdout[i:], "\n")
	field := strings.TrimSuffix(lines[0], "\r")
	for _, l := range lines[1:] {
		if l == "" || (l[0] != ' ' && l[0] != '\t') {
			break
		}
		field += "\r\n" + strings.TrimSuffix(l, "\r")
	}
	return field, nil
}

// TestmsgSign signs msg with opendkim-testmsg (libopendkim without the
// filter), which always uses the library's default algorithm, rsa-sha1,
// and relaxed/simple canonicalization: what an old OpenDKIM-based signer
// sends. It returns the signed message with CRLF line ends (-C).
func TestmsgSign(ctx context.Context, msg []byte, domain, selector, keyFile string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, testmsgCmd, "-C", "-d", domain, "-s", selector, "-k", keyFile)
	cmd.Stdin = bytes.NewReader(msg)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: opendkim-testmsg: %v: %s", ErrPeer, err, stderr.Bytes())
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("DKIM-Signature:")) {
		return nil, fmt.Errorf("%w: opendkim-testmsg printed no signature: %q", ErrPeer, stdout.Bytes())
	}
	return stdout.Bytes(), nil
}
