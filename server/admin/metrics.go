package admin

import (
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics counts the control plane's requests (by route and status), bundle builds and store
// failures, in the Prometheus text exposition format (version 0.0.4). Safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	seconds  map[string]float64 // by route
	builds   map[string]uint64  // by variant: full, no-assignments
	failures map[int]uint64     // store errors by status
}

type reqKey struct {
	route  string
	status int
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[reqKey]uint64{}, seconds: map[string]float64{}, builds: map[string]uint64{}, failures: map[int]uint64{}}
}

// Request records one answered request.
func (m *Metrics) Request(route string, status int, d time.Duration) {
	m.mu.Lock()
	m.requests[reqKey{route, status}]++
	m.seconds[route] += d.Seconds()
	m.mu.Unlock()
}

// Requests returns the count of one route and status.
func (m *Metrics) Requests(route string, status int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.requests[reqKey{route, status}]
}

// BundleBuild records one bundle built from the store.
func (m *Metrics) BundleBuild(noAssignments bool) {
	v := "full"
	if noAssignments {
		v = "no-assignments"
	}
	m.mu.Lock()
	m.builds[v]++
	m.mu.Unlock()
}

// BundleBuilds returns the builds of one variant ("full" or "no-assignments").
func (m *Metrics) BundleBuilds(variant string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.builds[variant]
}

// StoreError records a store failure (503: the database is unreachable; 500: anything else).
func (m *Metrics) StoreError(status int) {
	m.mu.Lock()
	m.failures[status]++
	m.mu.Unlock()
}

// StoreErrors returns the store failures of one status.
func (m *Metrics) StoreErrors(status int) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failures[status]
}

// Write writes every metric, series in a stable order.
func (m *Metrics) Write(w io.Writer) {
	var b strings.Builder
	m.mu.Lock()
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].status < keys[j].status
	})
	b.WriteString("# HELP gatehouse_control_plane_requests_total Requests answered, by route and status.\n")
	b.WriteString("# TYPE gatehouse_control_plane_requests_total counter\n")
	for _, k := range keys {
		b.WriteString(`gatehouse_control_plane_requests_total{route="` + escapeLabel(k.route) + `",status="` + strconv.Itoa(k.status) + `"} ` +
			strconv.FormatUint(m.requests[k], 10) + "\n")
	}
	routes := make([]string, 0, len(m.seconds))
	for r := range m.seconds {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	b.WriteString("# HELP gatehouse_control_plane_request_seconds_total Time spent answering, by route.\n")
	b.WriteString("# TYPE gatehouse_control_plane_request_seconds_total counter\n")
	for _, r := range routes {
		b.WriteString(`gatehouse_control_plane_request_seconds_total{route="` + escapeLabel(r) + `"} ` + strconv.FormatFloat(m.seconds[r], 'g', -1, 64) + "\n")
	}
	b.WriteString("# HELP gatehouse_control_plane_bundle_builds_total Bundles built from the store (a new revision), by variant.\n")
	b.WriteString("# TYPE gatehouse_control_plane_bundle_builds_total counter\n")
	for _, v := range []string{"full", "no-assignments"} {
		b.WriteString(`gatehouse_control_plane_bundle_builds_total{variant="` + v + `"} ` + strconv.FormatUint(m.builds[v], 10) + "\n")
	}
	b.WriteString("# HELP gatehouse_control_plane_store_errors_total Store failures (503: database unreachable), by status.\n")
	b.WriteString("# TYPE gatehouse_control_plane_store_errors_total counter\n")
	statuses := make([]int, 0, len(m.failures))
	for st := range m.failures {
		statuses = append(statuses, st)
	}
	sort.Ints(statuses)
	for _, st := range statuses {
		b.WriteString(`gatehouse_control_plane_store_errors_total{status="` + strconv.Itoa(st) + `"} ` + strconv.FormatUint(m.failures[st], 10) + "\n")
	}
	m.mu.Unlock()
	_, _ = io.WriteString(w, b.String())
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
