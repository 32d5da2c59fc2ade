package sendmail

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authmilter/authmilter/e2e"
	"github.com/authmilter/authmilter/resolver"
	"github.com/authmilter/authmilter/resolver/dnstest"
)

// envRun is the environment variable that turns the package on.
const envRun = "AUTHMILTER_SENDMAIL"

// The authserv-id the daemons write (RFC 8601 §2.5).
const authservID = "mx.test"

// Clients, presented by their loopback source address. Only internalIP is
// in the daemons' internal_networks.
const (
	internalIP = "127.0.0.1"
	outsideIP  = "127.0.0.2" // an outside MTA, SPF-authorized by the domains below
	outsideIP2 = "127.0.0.3" // an outside user of the MSA port, authorized by none
	heloName   = "client.sender.test"
)

// The zone's domains.
const (
	domPass   = "spf-pass.test"     // v=spf1 ip4:outsideIP -all; p=reject
	domReject = "dmarc-reject.test" // v=spf1 ip4:192.0.2.99 -all; p=reject
	domSign   = "sign.test"         // signed by the daemons; SPF authorizes outsideIP; p=reject
	selRSA    = "rsa2026"
	selEd     = "ed2026"
)

// suite is what the package's tests share, started by the first test that
// needs it and stopped by TestMain.
type suite struct {
	once     sync.Once
	skip     string
	setupErr error

	reaper   *e2e.Reaper
	work     string
	bin      string
	dns      *dnstest.Server
	sink     *e2e.Sink
	inet     *e2e.Daemon // the contrib filter's daemon (inet socket)
	unix     *e2e.Daemon // the benchmark's second daemon (unix socket)
	sendmail *Sendmail
	// verifyCfg configures `authmilter verify` against the test's DNS.
	verifyCfg string

	// Sendmail's listeners, "127.0.0.1:PORT": the contrib filter on
	// the MTA and MSA ports, the unix-socket daemon, and a filter where
	// nothing listens.
	mta, msa, unixMTA, down string

	teardownErr error
}

var env suite

func TestMain(m *testing.M) {
	code := m.Run()
	env.teardown()
	if env.teardownErr != nil {
		fmt.Fprintf(os.Stderr, "e2e/sendmail: teardown: %v\n", env.teardownErr)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// need skips tb unless the Sendmail phase runs it, and fails it if the
// shared set-up failed.
func (s *suite) need(tb testing.TB) {
	tb.Helper()
	if os.Getenv(envRun) != "1" {
		tb.Skip("run by scripts/test's Sendmail phase")
	}
	s.once.Do(s.setup)
	if s.skip != "" {
		tb.Skip(s.skip)
	}
	if s.setupErr != nil {
		tb.Fatalf("setup: %v", s.setupErr)
	}
}

func (s *suite) setup() {
	// With AUTHMILTER_SENDMAIL=1 a missing Sendmail is a failure: the
	// phase that sets it has just installed Sendmail.
	if err := checkTools(); err != nil {
		s.setupErr = err
		return
	}
	s.setupErr = s.start()
}

func (s *suite) start() (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if s.reaper, err = e2e.StartReaper(); err != nil {
		return err
	}
	if s.work, err = os.MkdirTemp("", "authmilter-sendmail-"); err != nil {
		return err
	}
	if err := s.reaper.Remove(s.work); err != nil {
		return err
	}
	root, err := e2e.RepoRoot()
	if err != nil {
		return err
	}
	if s.bin, err = e2e.BuildAuthmilter(ctx, root, s.work); err != nil {
		return err
	}
	zone, signRSA, signEd, err := buildZone()
	if err != nil {
		return err
	}
	if s.dns, err = dnstest.Serve(zone); err != nil {
		return err
	}
	if s.sink, err = e2e.StartSink(); err != nil {
		return err
	}
	signing, err := writeSigningKeys(s.work, signRSA, signEd)
	if err != nil {
		return err
	}

	inetAddr, err := e2e.FreePort()
	if err != nil {
		return err
	}
	// Sendmail refuses a unix socket in a directory others can write.
	sockDir := filepath.Join(s.work, "milter")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		return err
	}
	sock := filepath.Join(sockDir, "authmilter.sock")
	base := e2e.DaemonConfig{
		AuthservID:  authservID,
		Nameservers: []string{s.dns.Addr()},
		DNSTimeout:  "1s",
		// Loopback is internal by default; only 127.0.0.1 is here, so
		// 127.0.0.2 and 127.0.0.3 are judged as outside clients.
		InternalNetworks: []string{internalIP + "/32"},
		Signing:          signing,
	}
	inetCfg, unixCfg := base, base
	inetCfg.Listen = "inet:" + inetAddr
	unixCfg.Listen = "unix:" + sock
	if s.inet, err = startDaemon(s.bin, s.work, "inet.toml", inetCfg); err != nil {
		return err
	}
	if s.unix, err = startDaemon(s.bin, s.work, "unix.toml", unixCfg); err != nil {
		return err
	}
	verify := base
	verify.Signing = e2e.SigningSettings{}
	if s.verifyCfg, err = e2e.WriteConfig(s.work, "verify.toml", verify); err != nil {
		return err
	}

	host, port, _ := net.SplitHostPort(inetAddr)
	contrib, err := contribLines(root, "inet:"+port+"@"+host)
	if err != nil {
		return err
	}
	ports := make([]int, 5)
	addrs := make([]string, 5)
	for i := range ports {
		if addrs[i], err = e2e.FreePort(); err != nil {
			return err
		}
		if ports[i], err = portOf(addrs[i]); err != nil {
			return err
		}
	}
	s.mta, s.msa, s.unixMTA, s.down = addrs[0], addrs[1], addrs[2], addrs[3]
	// addrs[4] is a port nothing listens on: the stopped filter's.
	unixFilter, err := renamedFilter(contrib, unixFilterName, "local:"+sock)
	if err != nil {
		return err
	}
	downFilter, err := renamedFilter(contrib, downFilterName, fmt.Sprintf("inet:%d@127.0.0.1", ports[4]))
	if err != nil {
		return err
	}
	sinkPort, err := portOf(s.sink.Addr())
	if err != nil {
		return err
	}
	smDir := filepath.Join(s.work, "sendmail")
	if err := os.Mkdir(smDir, 0o755); err != nil {
		return err
	}
	s.sendmail, err = startSendmail(ctx, mcConfig{
		Dir: smDir, MTAPort: ports[0], MSAPort: ports[1], UnixPort: ports[2], DownPort: ports[3], SinkPort: sinkPort,
		Contrib: contrib,
		// The same flags and timeouts as the contrib filter.
		Extra: unixFilter + "\n" + downFilter,
	})
	return err
}

func startDaemon(bin, dir, name string, cfg e2e.DaemonConfig) (*e2e.Daemon, error) {
	p, err := e2e.WriteConfig(dir, name, cfg)
	if err != nil {
		return nil, err
	}
	return e2e.StartDaemon(bin, p, cfg)
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

func (s *suite) teardown() {
	var errs []error
	if s.sendmail != nil {
		errs = append(errs, s.sendmail.Stop())
	}
	for _, d := range []*e2e.Daemon{s.inet, s.unix} {
		if d != nil {
			if err := d.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("%w\n%s", err, d.Stderr()))
			}
		}
	}
	if s.sink != nil {
		_ = s.sink.Close()
	}
	if s.dns != nil {
		_ = s.dns.Close()
	}
	if s.work != "" {
		errs = append(errs, os.RemoveAll(s.work))
	}
	if s.reaper != nil {
		s.reaper.Done()
	}
	s.teardownErr = errors.Join(errs...)
}

// buildZone publishes the SPF, DMARC and DKIM key records (RFC 7208,
// RFC 7489 §6.1, RFC 6376 §3.6.2.1) of the test's domains, and returns the
// signing keys whose public halves it holds.
func buildZone() (*resolver.Fake, *rsa.PrivateKey, ed25519.PrivateKey, error) {
	z := resolver.NewFake()
	z.AddTXT(domPass, "v=spf1 ip4:"+outsideIP+" -all")
	z.AddTXT(domReject, "v=spf1 ip4:192.0.2.99 -all")
	z.AddTXT(domSign, "v=spf1 ip4:"+outsideIP+" -all")
	for _, d := range []string{domPass, domReject, domSign} {
		z.AddTXT("_dmarc."+d, "v=DMARC1; p=reject")
		z.AddA(d, "192.0.2.200")
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, nil, err
	}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		return nil, nil, nil, err
	}
	z.AddTXT(selRSA+"._domainkey."+domSign, "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der))
	// RFC 8463 §4.2: p= is the raw 32-byte Ed25519 key.
	z.AddTXT(selEd+"._domainkey."+domSign, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(edPub))
	return z, rsaKey, edKey, nil
}

// writeSigningKeys writes the keys as an administrator would (PKCS #8 PEM,
// mode 0600, which authmilter requires) and returns the [signing] section
// that signs domSign's mail with both. daemon_names is "MSA", the Name= of
// Sendmail's submission listener, which reaches authmilter as
// {daemon_name}.
func writeSigningKeys(dir string, rsaKey *rsa.PrivateKey, edKey ed25519.PrivateKey) (e2e.SigningSettings, error) {
	keyDir := filepath.Join(dir, "dkim")
	if err := os.Mkdir(keyDir, 0o700); err != nil {
		return e2e.SigningSettings{}, err
	}
	s := e2e.SigningSettings{
		DaemonNames: []string{"MSA"},
		Rules:       []e2e.SigningRule{{From: "*@" + domSign, Keys: []string{"rsa", "ed"}}},
	}
	for _, k := range []struct {
		name, sel string
		priv      any
	}{{"rsa", selRSA, rsaKey}, {"ed", selEd, edKey}} {
		der, err := x509.MarshalPKCS8PrivateKey(k.priv)
		if err != nil {
			return e2e.SigningSettings{}, err
		}
		p := filepath.Join(keyDir, k.sel+".pem")
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return e2e.SigningSettings{}, err
		}
		s.Keys = append(s.Keys, e2e.SigningKey{Name: k.name, Domain: domSign, Selector: k.sel, PrivateKey: p})
	}
	return s, nil
}
