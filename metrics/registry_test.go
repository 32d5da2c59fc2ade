package metrics

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// golden compares got with testdata/NAME; on a difference it writes
// NAME.got beside it for inspection (and, with -update, replaces NAME).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		os.WriteFile(path+".got", got, 0o644)
		t.Errorf("output differs from %s (see %s.got):\n%s", path, path, got)
	}
}

// smallRegistry has one family of each kind, with values known exactly
// (the histogram's observations are binary fractions, so its sum is exact).
func smallRegistry() *Registry {
	r := NewRegistry()
	c := r.NewCounterVec("test_messages_total", "Messages by action.\nSecond line with a \\ backslash.", "direction", "action")
	c.With("outbound", "accept").Add(3)
	c.With("inbound", "reject").Inc()
	c.With("inbound", "accept").Add(41)
	c.With("inbound", "accept").Inc()
	r.NewCounterVec("test_plain_total", "A counter without labels.").With().Add(7)
	esc := r.NewCounterVec("test_escape_total", "Label values that need escaping.", "key")
	esc.With(`back\slash`).Inc()
	esc.With(`"quoted"`).Inc()
	esc.With("two\nlines").Inc()
	esc.With("ünïcode").Inc()
	h := r.NewHistogramVec("test_duration_seconds", "Durations.", []float64{0.25, 1, 2.5}, "stage")
	for _, v := range []float64{0.125, 0.25, 0.5, 3, 100} {
		h.With("eom").Observe(v)
	}
	h.With("connect").Observe(0)
	r.NewGaugeFunc("test_connections", "A gauge read at scrape time.", func() float64 { return 2 })
	r.NewCounterFunc("test_dns_queries_total", "A counter read at scrape time.", func() float64 { return 1e6 })
	return r
}

func TestGolden(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	n, err := smallRegistry().WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
	}
	golden(t, "small.prom", b.Bytes())
}

func TestLabelEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value, want string }{
		{"plain", "dkim", `{k="dkim"}`},
		{"backslash", `a\b`, `{k="a\\b"}`},
		{"double quote", `say "hi"`, `{k="say \"hi\""}`},
		{"line feed", "a\nb", `{k="a\nb"}`},
		{"carriage return kept", "a\rb", "{k=\"a\rb\"}"},
		{"all three", "\\\"\n", `{k="\\\"\n"}`},
		{"empty", "", `{k=""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := labelPairs([]string{"k"}, []string{tt.value}, ""); got != tt.want {
				t.Errorf("labelPairs(%q) = %s, want %s", tt.value, got, tt.want)
			}
		})
	}
}

func TestFormatFloat(t *testing.T) {
	t.Parallel()
	inf := math.Inf(1)
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"integer", 3, "3"},
		{"fraction", 0.0025, "0.0025"},
		{"large", 1e21, "1e+21"},
		{"plus infinity", inf, "+Inf"},
		{"minus infinity", -inf, "-Inf"},
		{"not a number", math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := formatFloat(tt.v); got != tt.want {
				t.Errorf("formatFloat(%v) = %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

// TestHistogramBuckets checks that le is inclusive and that each bucket
// line is cumulative.
func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	h := r.NewHistogramVec("h", "h", []float64{1, 2}).With()
	for _, v := range []float64{1, 1.5, 2, 2.5} {
		h.Observe(v)
	}
	var b bytes.Buffer
	r.WriteTo(&b)
	for _, line := range []string{`h_bucket{le="1"} 1`, `h_bucket{le="2"} 3`, `h_bucket{le="+Inf"} 4`, `h_sum 7`, `h_count 4`} {
		if !strings.Contains(b.String(), line+"\n") {
			t.Errorf("missing %q in\n%s", line, b.String())
		}
	}
}

func TestMisuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func(r *Registry)
		is   error
	}{
		{"too few label values", func(r *Registry) { r.NewCounterVec("c", "c", "a", "b").With("x") }, ErrLabels},
		{"too many label values", func(r *Registry) { r.NewHistogramVec("h", "h", []float64{1}).With("x") }, ErrLabels},
		{"duplicate name", func(r *Registry) { r.NewCounterVec("c", "c"); r.NewGaugeFunc("c", "c", nil) }, nil},
		{"unsorted buckets", func(r *Registry) { r.NewHistogramVec("h", "h", []float64{2, 1}) }, nil},
		{"no buckets", func(r *Registry) { r.NewHistogramVec("h", "h", nil) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				p := recover()
				if p == nil {
					t.Fatal("no panic")
				}
				if err, _ := p.(error); tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("panic %v, want %v", p, tt.is)
				}
			}()
			tt.f(NewRegistry())
		})
	}
}

// TestConcurrent updates the same and new series from many goroutines
// while scraping; run with -race. The totals must come out exact.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	c := r.NewCounterVec("c_total", "c", "k")
	h := r.NewHistogramVec("h_seconds", "h", []float64{0.5}, "k")
	const workers, each = 8, 2000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys := []string{"shared", string(rune('a' + w))}
			for i := range each {
				k := keys[i%2]
				c.With(k).Inc()
				h.With(k).Observe(0.25)
			}
		}()
	}
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
				r.WriteTo(&bytes.Buffer{})
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-scraped
	if got := c.With("shared").Value(); got != workers*each/2 {
		t.Errorf("shared counter = %d, want %d", got, workers*each/2)
	}
	if got := h.With("shared").Count(); got != workers*each/2 {
		t.Errorf("shared histogram count = %d, want %d", got, workers*each/2)
	}
	var b bytes.Buffer
	r.WriteTo(&b)
	if want := `h_seconds_sum{k="shared"} 2000` + "\n"; !strings.Contains(b.String(), want) {
		t.Errorf("missing %q (a lost CAS update) in\n%s", want, b.String())
	}
	if n := strings.Count(b.String(), "c_total{"); n != workers+1 {
		t.Errorf("%d counter series, want %d", n, workers+1)
	}
}

func BenchmarkCounterWith(b *testing.B) {
	c := NewRegistry().NewCounterVec("c_total", "c", "direction", "action")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.With("inbound", "accept").Inc()
		}
	})
}

func BenchmarkHistogramObserve(b *testing.B) {
	h := NewRegistry().NewHistogramVec("h_seconds", "h", DurationBuckets, "stage")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.With("eom").Observe(0.003)
		}
	})
}
