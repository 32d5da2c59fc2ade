// Package metrics counts what the daemon does and writes it in the
// Prometheus text exposition format (version 0.0.4,
// https://prometheus.io/docs/instrumenting/exposition_formats/), written
// by hand so that the daemon needs no client library.
//
// The hot path (one message, one milter stage) only does atomic adds: a
// labelled series is created once, under its family's mutex, and found
// again through a sync.Map read, which takes no lock. Values that other
// packages already count (the DNS resolver's statistics, the number of MTA
// connections) are read through callbacks at scrape time.
//
// Packages milter and policy do not import this package: milter defines
// the small Observer interface that Daemon implements.
package metrics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrLabels is the panic value wrapped when a series is asked for with the
// wrong number of label values: a programming error, caught by tests.
var ErrLabels = errors.New("metrics: wrong number of label values")

// Registry holds metric families and writes them in registration order.
// Registration happens at start-up; writing may run concurrently with
// updates.
type Registry struct {
	mu       sync.Mutex
	families []writer
	names    map[string]bool
}

// writer is one family: its HELP and TYPE lines and its samples.
type writer interface {
	name() string
	write(w *bufio.Writer)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// register adds f; a duplicate name is a programming error.
func (r *Registry) register(f writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[f.name()] {
		panic("metrics: duplicate metric " + f.name())
	}
	r.names[f.name()] = true
	r.families = append(r.families, f)
}

// WriteTo writes every family in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	fams := slices.Clone(r.families)
	r.mu.Unlock()
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	for _, f := range fams {
		f.write(bw)
	}
	err := bw.Flush()
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// desc is what every family has: name, help, type and label names.
type desc struct {
	fname  string
	help   string
	typ    string // "counter", "gauge", "histogram"
	labels []string
}

func (d *desc) name() string { return d.fname }

// header writes the HELP and TYPE lines. In HELP text only backslash and
// line feed are escaped (exposition format, "Comments, help text, and type
// information").
func (d *desc) header(w *bufio.Writer) {
	w.WriteString("# HELP ")
	w.WriteString(d.fname)
	w.WriteByte(' ')
	w.WriteString(helpEscaper.Replace(d.help))
	w.WriteString("\n# TYPE ")
	w.WriteString(d.fname)
	w.WriteByte(' ')
	w.WriteString(d.typ)
	w.WriteByte('\n')
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// labelPairs formats {a="x",b="y"} with label values escaped as the
// exposition format requires: backslash, double quote and line feed.
// extra, if not empty, is one more pair already formatted (a histogram's
// le="...").
func labelPairs(names, values []string, extra string) string {
	if len(names) == 0 && extra == "" {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(values[i]))
		b.WriteByte('"')
	}
	if extra != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.String()
}

// formatFloat writes a sample value: Go's shortest representation, and
// +Inf, -Inf, NaN as the format spells them.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func sample(w *bufio.Writer, name, labels, value string) {
	w.WriteString(name)
	w.WriteString(labels)
	w.WriteByte(' ')
	w.WriteString(value)
	w.WriteByte('\n')
}

// vec is the label-to-series map shared by the labelled families. Lookups
// go through a sync.Map (no lock once the series exists); creation takes
// mu so that a series is made exactly once.
type vec[T any] struct {
	desc
	mu     sync.Mutex
	series sync.Map // joined label values -> *entry[T]
	make   func() *T
}

type entry[T any] struct {
	values []string
	m      *T
}

// key joins label values with a byte that cannot occur in valid UTF-8.
func key(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values, "\xff")
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Errorf("%w: %s has %d labels, got %d values", ErrLabels, v.fname, len(v.labels), len(values)))
	}
	k := key(values)
	if e, ok := v.series.Load(k); ok {
		return e.(*entry[T]).m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.series.Load(k); ok {
		return e.(*entry[T]).m
	}
	e := &entry[T]{values: slices.Clone(values), m: v.make()}
	v.series.Store(k, e)
	return e.m
}

// sorted returns the series ordered by label values, so that the output
// is stable from one scrape to the next.
func (v *vec[T]) sorted() []*entry[T] {
	var out []*entry[T]
	v.series.Range(func(_, e any) bool {
		out = append(out, e.(*entry[T]))
		return true
	})
	slices.SortFunc(out, func(a, b *entry[T]) int { return slices.Compare(a.values, b.values) })
	return out
}

// Counter is a monotonically increasing count.
type Counter struct{ v atomic.Uint64 }

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// CounterVec is a counter family with labels.
type CounterVec struct{ v vec[Counter] }

// NewCounterVec registers a counter family. With no label names it has one
// series, With().
func (r *Registry) NewCounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{v: vec[Counter]{desc: desc{name, help, "counter", labels}, make: func() *Counter { return new(Counter) }}}
	r.register(c)
	return c
}

// With returns the series for the label values, in the order the label
// names were given, creating it on first use. Callers on a hot path may
// keep the returned *Counter.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

func (c *CounterVec) name() string { return c.v.fname }

func (c *CounterVec) write(w *bufio.Writer) {
	c.v.header(w)
	for _, e := range c.v.sorted() {
		sample(w, c.v.fname, labelPairs(c.v.labels, e.values, ""), strconv.FormatUint(e.m.Value(), 10))
	}
}

// funcFamily is a counter or gauge whose value is read at scrape time.
type funcFamily struct {
	desc
	f func() float64
}

func (f *funcFamily) write(w *bufio.Writer) {
	f.header(w)
	sample(w, f.fname, "", formatFloat(f.f()))
}

// NewCounterFunc registers a counter read from f at each scrape; f must be
// safe for concurrent use and never decrease.
func (r *Registry) NewCounterFunc(name, help string, f func() float64) {
	r.register(&funcFamily{desc{name, help, "counter", nil}, f})
}

// NewGaugeFunc registers a gauge read from f at each scrape; f must be safe
// for concurrent use.
func (r *Registry) NewGaugeFunc(name, help string, f func() float64) {
	r.register(&funcFamily{desc{name, help, "gauge", nil}, f})
}

// Histogram counts observations into fixed buckets. Each bucket is counted
// on its own (not cumulatively) so an observation is one atomic add there,
// one to the count and a compare-and-swap loop on the sum; the cumulative
// counts are added up when writing. A scrape racing with observations may
// see a sum that lags the counts by an observation or so; the counts are
// always consistent with each other.
type Histogram struct {
	bounds []float64       // upper bounds, ascending, without +Inf
	counts []atomic.Uint64 // len(bounds)+1, the last one for +Inf
	sum    atomic.Uint64   // float64 bits
}

func newHistogram(bounds []float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe records one value (a duration in seconds, for ours).
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v: le is inclusive
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Count returns the number of observations.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// HistogramVec is a histogram family with labels and fixed buckets.
type HistogramVec struct {
	v   vec[Histogram]
	les []string // formatted le="..." pairs, +Inf last
}

// NewHistogramVec registers a histogram family with the given bucket upper
// bounds, which must be ascending and finite (+Inf is added).
func (r *Registry) NewHistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	if !slices.IsSorted(buckets) || len(buckets) == 0 || math.IsInf(buckets[len(buckets)-1], 1) {
		panic("metrics: " + name + ": buckets must be ascending and finite")
	}
	b := slices.Clone(buckets)
	h := &HistogramVec{v: vec[Histogram]{desc: desc{name, help, "histogram", labels}, make: func() *Histogram { return newHistogram(b) }}}
	for _, ub := range b {
		h.les = append(h.les, `le="`+formatFloat(ub)+`"`)
	}
	h.les = append(h.les, `le="+Inf"`)
	r.register(h)
	return h
}

// With returns the series for the label values, creating it on first use.
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

func (h *HistogramVec) name() string { return h.v.fname }

func (h *HistogramVec) write(w *bufio.Writer) {
	h.v.header(w)
	for _, e := range h.v.sorted() {
		var cum uint64
		for i := range e.m.counts {
			cum += e.m.counts[i].Load()
			sample(w, h.v.fname+"_bucket", labelPairs(h.v.labels, e.values, h.les[i]), strconv.FormatUint(cum, 10))
		}
		ls := labelPairs(h.v.labels, e.values, "")
		sample(w, h.v.fname+"_sum", ls, formatFloat(math.Float64frombits(e.m.sum.Load())))
		sample(w, h.v.fname+"_count", ls, strconv.FormatUint(cum, 10))
	}
}
