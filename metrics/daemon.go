package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/authmilter/authmilter/policy"
	"github.com/authmilter/authmilter/resolver"
)

// DurationBuckets are the upper bounds, in seconds, of the latency
// histograms: from 1 ms (a message answered from the DNS cache) to 60 s
// (beyond Postfix's milter_command_timeout of 30 s, so a stall shows).
var DurationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// Daemon is the daemon's set of metrics. It implements milter.Observer
// (Message, Stage). The zero value is not usable: call NewDaemon.
type Daemon struct {
	reg *Registry

	messages     *CounterVec
	results      *CounterVec
	duration     *HistogramVec
	stages       *HistogramVec
	signatures   *CounterVec
	signFailures *Counter
	reloads      *CounterVec

	// Resolver statistics: each reload builds a new resolver, so the
	// counters of the ones replaced are kept in base and the current one
	// is added at scrape time, keeping the exported counters monotonic.
	dnsMu   sync.Mutex
	dnsBase resolver.StubStats
	dns     atomic.Pointer[statsSource]

	conns atomic.Pointer[func() int]
}

// StatsSource is what the DNS metrics read: *resolver.Stub.
type StatsSource interface{ Stats() resolver.StubStats }

type statsSource struct{ StatsSource }

// NewDaemon registers the daemon's metrics in a new registry.
func NewDaemon() *Daemon {
	r := NewRegistry()
	d := &Daemon{reg: r}
	d.messages = r.NewCounterVec("authmilter_messages_total",
		"Messages judged, by direction (inbound: verified, outbound: signed) and action taken.", "direction", "action")
	d.results = r.NewCounterVec("authmilter_results_total",
		"Authentication results by method (spf: MAIL FROM identity; dkim: one per signature, none for an unsigned message; dmarc) and result.", "method", "result")
	d.duration = r.NewHistogramVec("authmilter_message_duration_seconds",
		"Time from MAIL FROM to the verdict, by direction.", DurationBuckets, "direction")
	d.stages = r.NewHistogramVec("authmilter_stage_duration_seconds",
		"Time spent answering one milter callback, by stage (header and body: per field and per chunk).", DurationBuckets, "stage")
	d.signatures = r.NewCounterVec("authmilter_signatures_total",
		"DKIM signatures made, by signing key name.", "key")
	d.signFailures = r.NewCounterVec("authmilter_signing_failures_total",
		"Outbound messages that matched a signing rule but got no signature (key missing or signing error).").With()
	d.reloads = r.NewCounterVec("authmilter_reloads_total",
		"Configuration reloads (SIGHUP), by result (success, failure).", "result")
	dnsCounter := func(name, help string, f func(resolver.StubStats) uint64) {
		r.NewCounterFunc(name, help, func() float64 { return float64(f(d.dnsStats())) })
	}
	dnsCounter("authmilter_dns_queries_total", "DNS queries sent, over UDP and TCP.", func(s resolver.StubStats) uint64 { return s.Queries })
	dnsCounter("authmilter_dns_cache_hits_total", "DNS lookups answered from the cache.", func(s resolver.StubStats) uint64 { return s.CacheHits })
	dnsCounter("authmilter_dns_cache_misses_total", "DNS lookups that needed a query.", func(s resolver.StubStats) uint64 { return s.CacheMisses })
	dnsCounter("authmilter_dns_timeouts_total", "DNS query attempts that got no usable reply in time.", func(s resolver.StubStats) uint64 { return s.Timeouts })
	dnsCounter("authmilter_dns_servfails_total", "SERVFAIL responses received.", func(s resolver.StubStats) uint64 { return s.ServFails })
	r.NewGaugeFunc("authmilter_active_connections", "Open connections from the MTA.", func() float64 {
		if f := d.conns.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	// The series whose label values are known are created now, so that
	// they read 0 (not absent) before the first event: rate() and alerts
	// on failures then work from the first scrape.
	for _, dir := range []string{"inbound", "outbound"} {
		d.duration.With(dir)
		for _, a := range []policy.Action{policy.Accept, policy.Reject, policy.Tempfail, policy.Quarantine} {
			d.messages.With(dir, string(a))
		}
	}
	d.reloads.With("success")
	d.reloads.With("failure")
	return d
}

// Registry returns the registry the metrics are written from.
func (d *Daemon) Registry() *Registry { return d.reg }

// Message counts one judged message. It implements milter.Observer and is
// called once per verdict, from the connection's goroutine.
func (d *Daemon) Message(v *policy.Verdict, elapsed time.Duration) {
	dir := v.Direction()
	d.messages.With(dir, string(v.Action)).Inc()
	d.duration.With(dir).Observe(elapsed.Seconds())
	if v.SPF.Result != "" {
		d.results.With("spf", string(v.SPF.Result)).Inc()
	}
	if v.DMARC != nil && v.DMARC.Result.Result != "" {
		d.results.With("dmarc", v.DMARC.Result.Result).Inc()
	}
	if len(v.DKIM) == 0 && v.DMARC != nil {
		// RFC 8601 §2.7.1: dkim=none, the message was not signed. A
		// message refused before it was judged (DMARC nil) has no result.
		d.results.With("dkim", "none").Inc()
	}
	for _, r := range v.DKIM {
		d.results.With("dkim", r.Result).Inc()
	}
	if s := v.Signing; s != nil {
		for _, sig := range s.Signatures {
			d.signatures.With(sig.KeyName).Inc()
		}
		if s.Rule != "" && len(s.Signatures) == 0 {
			d.signFailures.Inc()
		}
	}
}

// Stage records the time one milter callback took. It implements
// milter.Observer.
func (d *Daemon) Stage(stage string, elapsed time.Duration) {
	d.stages.With(stage).Observe(elapsed.Seconds())
}

// Reload counts a configuration reload.
func (d *Daemon) Reload(ok bool) {
	if ok {
		d.reloads.With("success").Inc()
	} else {
		d.reloads.With("failure").Inc()
	}
}

// SetResolver makes the DNS metrics read src from now on. The counts of
// the resolver it replaces are kept, so the exported counters never go
// down; lookups the old resolver still answers for messages in flight
// after the switch are not counted.
func (d *Daemon) SetResolver(src StatsSource) {
	d.dnsMu.Lock()
	defer d.dnsMu.Unlock()
	if old := d.dns.Load(); old != nil {
		d.dnsBase = addStats(d.dnsBase, old.Stats())
	}
	if src == nil {
		d.dns.Store(nil)
		return
	}
	d.dns.Store(&statsSource{src})
}

// SetConnections makes authmilter_active_connections read f (the milter
// server's ActiveConnections).
func (d *Daemon) SetConnections(f func() int) { d.conns.Store(&f) }

// dnsStats is the base plus the current resolver's counters. It holds
// dnsMu so that a scrape never sees a resolver counted twice or not at all
// while SetResolver moves it into the base.
func (d *Daemon) dnsStats() resolver.StubStats {
	d.dnsMu.Lock()
	defer d.dnsMu.Unlock()
	s := d.dnsBase
	if cur := d.dns.Load(); cur != nil {
		s = addStats(s, cur.Stats())
	}
	return s
}

func addStats(a, b resolver.StubStats) resolver.StubStats {
	return resolver.StubStats{
		Queries: a.Queries + b.Queries, CacheHits: a.CacheHits + b.CacheHits, CacheMisses: a.CacheMisses + b.CacheMisses,
		Coalesced: a.Coalesced + b.Coalesced, Timeouts: a.Timeouts + b.Timeouts, ServFails: a.ServFails + b.ServFails,
		Truncated: a.Truncated + b.Truncated, Mismatched: a.Mismatched + b.Mismatched, Evictions: a.Evictions + b.Evictions,
	}
}
