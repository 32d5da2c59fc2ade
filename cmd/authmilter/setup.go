package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/authmilter/authmilter/config"
	"github.com/authmilter/authmilter/policy"
	"github.com/authmilter/authmilter/policy/dmarc"
	"github.com/authmilter/authmilter/policy/sign"
	"github.com/authmilter/authmilter/resolver"
)

// loadConfig reads path, or returns the built-in defaults when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

// newLogger builds the daemon's logger from the [log] section. Logs go to
// stderr: systemd's journal, Docker and a terminal all collect it there.
func newLogger(c *config.Config, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Log.Level)
	if err != nil {
		return nil, err
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Log.Format == "json" {
		enc = zapcore.NewJSONEncoder(encCfg)
	} else {
		encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
		encCfg.EncodeDuration = zapcore.StringDurationEncoder // "3.2ms", not 0.0032
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)), nil
}

// newResolver builds the caching stub resolver of the [dns] section.
func newResolver(c *config.Config) (*resolver.Stub, error) {
	return resolver.NewStub(resolver.StubConfig{
		Nameservers: c.DNS.Nameservers,
		Timeout:     c.DNS.Timeout.Duration,
		CacheSize:   c.DNS.CacheSize,
	})
}

// newEngine builds the policy engine of a configuration.
func newEngine(c *config.Config, r resolver.Resolver) (*policy.Engine, error) {
	d := c.DMARC
	var psl dmarc.PSL
	if d.PublicSuffixList != "" {
		f, err := os.Open(d.PublicSuffixList)
		if err != nil {
			return nil, fmt.Errorf("dmarc.public_suffix_list: %w", err)
		}
		psl, err = dmarc.LoadPSL(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("dmarc.public_suffix_list %s: %w", d.PublicSuffixList, err)
		}
	}
	sg := c.Signing
	signing := policy.SigningOptions{
		DaemonNames: sg.DaemonNames,
		Sign: sign.Options{
			HeaderCanon: canonPart(sg.Canonicalization, 0),
			BodyCanon:   canonPart(sg.Canonicalization, 1),
			Profile:     sg.Profile,
			Headers:     sg.Headers,
			Oversign:    sg.Oversign,
			Expire:      sg.Expire.Duration,
		},
		AcceptKeyMissing: sg.OnKeyMissing == "accept",
		AcceptSignError:  sg.OnError == "accept",
	}
	if set := c.KeySet(); set != nil && len(set.Keys()) > 0 {
		signing.Keys = set
	}
	return policy.New(policy.Options{
		Signing:          signing,
		AuthservID:       c.AuthservID,
		OnDNSError:       policy.DNSErrorAction(c.Verify.OnDNSError),
		SPFHelo:          c.Verify.SPFHelo,
		MaxHeaderBytes:   c.Verify.MaxHeaderBytes,
		MaxSignatures:    c.Verify.MaxSignatures,
		MinRSABits:       c.Verify.MinRSABits,
		InternalNetworks: c.InternalNetworks,
		DMARC: policy.DMARCOptions{
			Enforce:                      d.Enforce,
			Quarantine:                   d.Quarantine,
			QuarantineHeaderName:         d.QuarantineHeader,
			TrustedForwarders:            d.TrustedForwarders,
			TrustedRelays:                d.TrustedRelays,
			Mode:                         dmarc.Mode(d.Mode),
			PSL:                          psl,
			OnDNSError:                   policy.DNSErrorAction(d.OnDNSError),
			ExemptMailingLists:           d.MailingLists == "exempt",
			RejectMultipleAuthors:        d.MultipleAuthors == "reject",
			RejectMalformedFrom:          d.MalformedFrom == "reject",
			TempfailRelayWithoutReceived: d.RelayWithoutReceived == "tempfail",
			RejectText:                   d.RejectText,
		},
	}, r)
}

// engineFor loads the configuration at path (built-in defaults for "")
// and builds the engine the daemon would run, for the one-shot commands.
// On failure it prints why and returns the exit status to use.
func engineFor(cmd, path string, stderr io.Writer) (*policy.Engine, int) {
	cfg, err := loadConfig(path)
	if err != nil {
		printConfigError(stderr, err)
		return nil, 1
	}
	res, err := newResolver(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "authmilter %s: %v\n", cmd, err)
		return nil, 1
	}
	eng, err := newEngine(cfg, res)
	if err != nil {
		fmt.Fprintf(stderr, "authmilter %s: %v\n", cmd, err)
		return nil, 1
	}
	return eng, 0
}

// canonPart returns the header (0) or body (1) half of "header/body"; a
// single word applies to the header, and the body defaults to "simple", as
// RFC 6376 §3.5 reads c=.
func canonPart(c string, i int) string {
	parts := strings.SplitN(c, "/", 2)
	if i < len(parts) {
		return parts[i]
	}
	if c == "" {
		return ""
	}
	return "simple"
}

// flagSet returns a FlagSet that reports errors on stderr and does not exit.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("authmilter "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// printConfigError prints a configuration error, one problem per line.
func printConfigError(w io.Writer, err error) {
	if errs, ok := err.(config.Errors); ok {
		for _, e := range errs {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}
