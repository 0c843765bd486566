package gatehouse

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func newTestMiddleware(t testing.TB, c *Config, next http.Handler) *Gatehouse {
	t.Helper()
	h, err := New(context.Background(), next, c, "unit")
	if err != nil {
		t.Fatal(err)
	}
	return h.(*Gatehouse)
}

func TestAPanicInGatehouseIsDeniedNotPassedThrough(t *testing.T) {
	c := CreateConfig()
	c.Secret = "fake-unit-test-secret-0123456789abcdef"
	called := false
	g := newTestMiddleware(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	g.verifier = nil // any token now panics inside Verify
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Authorization", "Bearer a.b.c")
	g.ServeHTTP(rec, req)
	if rec.Code != 500 || called {
		t.Fatalf("status %d, backend called %v", rec.Code, called)
	}
	if !strings.Contains(rec.Header().Get("Content-Type"), "problem+json") {
		t.Errorf("content type %q", rec.Header().Get("Content-Type"))
	}
}

func TestListDefaultsAreNotPrefilled(t *testing.T) {
	c := CreateConfig()
	if c.TokenSources != nil || c.Algorithms != nil || c.Routes != nil {
		t.Fatal("CreateConfig pre-fills a list: mapstructure would keep its stale tail")
	}
}
