package forwardauth

import (
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics counts decisions by result and route and times them, in the Prometheus text exposition
// format (version 0.0.4), written by hand. Safe for concurrent use.
//
// Results: allow (the backend would have been called), deny (401/403 from Gatehouse), refused
// (400/413/414: unsafe path, override, path too long), unavailable (503: no key source), error
// (500), malformed (the auth request did not describe an origin-form request: 400 before any
// evaluation), untrusted (a peer outside --trusted-proxies: 403 before any evaluation).
type Metrics struct {
	mu        sync.Mutex
	decisions map[[2]string]uint64
	counts    []uint64 // per bucket, not cumulative
	count     uint64
	sum       float64
}

// latencyBuckets are the upper bounds, in seconds, of the decision latency histogram.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{decisions: map[[2]string]uint64{}, counts: make([]uint64, len(latencyBuckets)+1)}
}

// Observe records one answered auth request.
func (m *Metrics) Observe(result, route string, d time.Duration) {
	sec := d.Seconds()
	i := sort.SearchFloat64s(latencyBuckets, sec)
	m.mu.Lock()
	m.decisions[[2]string{result, route}]++
	m.counts[i]++
	m.count++
	m.sum += sec
	m.mu.Unlock()
}

// Decisions returns the count of one result and route.
func (m *Metrics) Decisions(result, route string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.decisions[[2]string{result, route}]
}

// Write writes every metric in the text exposition format, series in a stable order.
func (m *Metrics) Write(w io.Writer) {
	var b strings.Builder
	m.mu.Lock()
	keys := make([][2]string, 0, len(m.decisions))
	for k := range m.decisions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	b.WriteString("# HELP gatehouse_forward_auth_decisions_total Auth requests answered, by result and matched route.\n")
	b.WriteString("# TYPE gatehouse_forward_auth_decisions_total counter\n")
	for _, k := range keys {
		b.WriteString(`gatehouse_forward_auth_decisions_total{result="` + escapeLabel(k[0]) + `",route="` + escapeLabel(k[1]) + `"} ` +
			strconv.FormatUint(m.decisions[k], 10) + "\n")
	}
	b.WriteString("# HELP gatehouse_forward_auth_duration_seconds Time to answer an auth request.\n")
	b.WriteString("# TYPE gatehouse_forward_auth_duration_seconds histogram\n")
	var cum uint64
	for i, le := range latencyBuckets {
		cum += m.counts[i]
		b.WriteString(`gatehouse_forward_auth_duration_seconds_bucket{le="` + strconv.FormatFloat(le, 'g', -1, 64) + `"} ` + strconv.FormatUint(cum, 10) + "\n")
	}
	b.WriteString(`gatehouse_forward_auth_duration_seconds_bucket{le="+Inf"} ` + strconv.FormatUint(m.count, 10) + "\n")
	b.WriteString("gatehouse_forward_auth_duration_seconds_sum " + strconv.FormatFloat(m.sum, 'g', -1, 64) + "\n")
	b.WriteString("gatehouse_forward_auth_duration_seconds_count " + strconv.FormatUint(m.count, 10) + "\n")
	m.mu.Unlock()
	writeFetches(&b)
	_, _ = io.WriteString(w, b.String())
}

// escapeLabel escapes a label value: backslash, double quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// Key-set fetches are observed where they leave the process: the plugin's JWKS client (tokens/)
// fetches with http.DefaultClient, whose transport InstrumentKeyFetches wraps. The plugin code is
// untouched; in forward-auth nothing else uses http.DefaultClient.
var (
	fetchMu     sync.Mutex
	fetchCounts = map[[2]string]uint64{}
	fetchOnce   sync.Once
)

// InstrumentKeyFetches wraps http.DefaultClient's transport (once per process) so that every
// JWKS and OIDC discovery fetch is counted by kind and result. Call it before building a Server
// and before serving.
func InstrumentKeyFetches() {
	fetchOnce.Do(func() {
		base := http.DefaultClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		http.DefaultClient.Transport = countingTransport{base: base}
	})
}

// KeyFetches returns the count of one kind ("jwks" or "discovery") and result ("ok" or "error").
func KeyFetches(kind, result string) uint64 {
	fetchMu.Lock()
	defer fetchMu.Unlock()
	return fetchCounts[[2]string{kind, result}]
}

type countingTransport struct{ base http.RoundTripper }

// RoundTrip counts the fetch: ok for a 200 response, error for anything else.
func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	kind := "jwks"
	if strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		kind = "discovery"
	}
	res := "ok"
	if err != nil || resp.StatusCode != http.StatusOK {
		res = "error"
	}
	fetchMu.Lock()
	fetchCounts[[2]string{kind, res}]++
	fetchMu.Unlock()
	return resp, err
}

func writeFetches(b *strings.Builder) {
	fetchMu.Lock()
	defer fetchMu.Unlock()
	b.WriteString("# HELP gatehouse_jwks_fetches_total Key-set fetches by the plugin's JWKS client (jwks) and OIDC discovery documents (discovery), by result.\n")
	b.WriteString("# TYPE gatehouse_jwks_fetches_total counter\n")
	for _, kind := range []string{"discovery", "jwks"} {
		for _, res := range []string{"error", "ok"} {
			b.WriteString(`gatehouse_jwks_fetches_total{kind="` + kind + `",result="` + res + `"} ` +
				strconv.FormatUint(fetchCounts[[2]string{kind, res}], 10) + "\n")
		}
	}
}
