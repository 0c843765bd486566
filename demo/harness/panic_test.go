package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAPanicInGatehouseIsDeniedNotPassedThrough provokes a panic inside the plugin (identity
// headers written into a request whose header map is nil) and expects a 500 problem answer and no
// backend call, compiled and interpreted.
func TestAPanicInGatehouseIsDeniedNotPassedThrough(t *testing.T) {
	tok := mint(t, "ES256", claims("alice", "acme", nil, nil), nil)
	for _, l := range loaders(t) {
		h, b := instance(t, l, baseConfig("tokenSources", "query:access_token"))
		req := httptest.NewRequest("GET", "/x?access_token="+tok, nil)
		req.Header = nil
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 500 || b.calls != 0 {
			t.Errorf("%s: status %d, backend calls %d; want 500 and none", l.Name(), rec.Code, b.calls)
		}
		if !strings.Contains(rec.Header().Get("Content-Type"), "problem+json") {
			t.Errorf("%s: content type %q", l.Name(), rec.Header().Get("Content-Type"))
		}
	}
}

// TestABackendPanicIsNotSwallowed: once forwarded, a panic belongs to the backend (Traefik's proxy
// panics with http.ErrAbortHandler when a client goes away) and must reach the caller unchanged.
func TestABackendPanicIsNotSwallowed(t *testing.T) {
	panicking := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	for _, l := range loaders(t) {
		h, err := l.New(context.Background(), panicking, baseConfig("routes", "GET /healthz public"), "test")
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if r := recover(); r != http.ErrAbortHandler {
					t.Errorf("%s: recovered %v, want http.ErrAbortHandler", l.Name(), r)
				}
			}()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
		}()
		if rec.Code == 500 {
			t.Errorf("%s: Gatehouse answered a backend panic itself", l.Name())
		}
	}
}
