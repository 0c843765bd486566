package workflows

import (
	"context"
	"errors"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// DefaultAssertionHeader is the header Gatehouse forwards its signed identity assertion in.
const DefaultAssertionHeader = "X-Auth-Assertion"

// AssertionConfig says how the API verifies the gateway's signed identity assertion, with
// ordinary libraries (keyfunc/v3 for the JWK Set, golang-jwt/jwt/v5 for the JWT), as any backend
// would.
type AssertionConfig struct {
	JWKSURL  string        // the gateway's JWK Set, e.g. http://traefik:8080/.well-known/gatehouse/jwks.json
	Issuer   string        // the gateway's assertion issuer (its assertion.issuer setting)
	Audience string        // this API's audience (the middleware's assertion.audience)
	Header   string        // default X-Auth-Assertion
	Leeway   time.Duration // allowed clock skew; default 5s
}

// verifier checks assertions. The JWK Set is fetched on the first request that needs it (the
// gateway may start after the API), and again when an assertion names an unknown kid (rotation),
// at most once a second.
type verifier struct {
	cfg    AssertionConfig
	ctx    context.Context
	parser *jwt.Parser
	now    func() time.Time

	mu      sync.Mutex
	kf      keyfunc.Keyfunc
	stop    context.CancelFunc // ends the refresh of kf
	tried   time.Time
	lastErr error
}

// RequireAssertion makes every route but /healthz (public: Gatehouse signs no assertion there)
// refuse, with 401, a request without a valid assertion, or whose assertion does not match the
// X-Auth-Subject, X-Auth-Issuer and X-Auth-Org headers, the method or the path. Call it before
// Handler. ctx ends the background refresh of the JWK Set.
func (s *Service) RequireAssertion(ctx context.Context, c AssertionConfig) error {
	if c.JWKSURL == "" || c.Issuer == "" || c.Audience == "" {
		return errors.New("assertion: JWKSURL, Issuer and Audience are required")
	}
	if c.Header == "" {
		c.Header = DefaultAssertionHeader
	}
	if c.Leeway == 0 {
		c.Leeway = 5 * time.Second
	}
	s.verifier = &verifier{cfg: c, ctx: ctx, now: time.Now, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(c.Leeway),
	)}
	return nil
}

// keys returns the JWK Set client, creating it (one fetch) on first use; a failed attempt is
// retried at most once a second.
func (v *verifier) keys() (keyfunc.Keyfunc, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.kf != nil {
		return v.kf, nil
	}
	if v.now().Sub(v.tried) < time.Second {
		return nil, v.lastErr
	}
	v.tried = v.now()
	ctx, cancel := context.WithCancel(v.ctx)
	failFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{v.cfg.JWKSURL}, keyfunc.Override{
		HTTPTimeout:               5 * time.Second,
		NoErrorReturnFirstHTTPReq: &failFirst,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(time.Second), 1),
		RateLimitWaitMax:          time.Second,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) { log.Printf("workflows: JWKS %s: %v", u, err) }
		},
	})
	if err != nil {
		cancel()
		v.lastErr = err
		return nil, err
	}
	v.kf = kf
	v.stop = cancel
	return kf, nil
}

// check verifies the request's assertion and binds it to the request. It returns the reason for a
// refusal, or "".
func (v *verifier) check(r *http.Request) string {
	values := r.Header.Values(v.cfg.Header)
	if len(values) == 0 {
		return "no " + v.cfg.Header + ": this API accepts only requests the gateway vouched for"
	}
	if len(values) > 1 {
		return "more than one " + v.cfg.Header
	}
	kf, err := v.keys()
	if err != nil {
		return "the gateway's JWK Set is unavailable"
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(values[0], claims, kf.Keyfunc); err != nil {
		return "invalid " + v.cfg.Header + ": " + err.Error()
	}
	for _, c := range []struct{ claim, got, what string }{
		{"sub", r.Header.Get("X-Auth-Subject"), "X-Auth-Subject"},
		{"idp", r.Header.Get("X-Auth-Issuer"), "X-Auth-Issuer"},
		{"org", r.Header.Get("X-Auth-Org"), "X-Auth-Org"},
		{"method", r.Method, "the request method"},
		{"path", r.URL.EscapedPath(), "the request path"},
	} {
		want, _ := claims[c.claim].(string)
		if want != c.got {
			return "the assertion's " + c.claim + " does not match " + c.what
		}
	}
	return ""
}

// guard wraps h with the assertion check when the service requires one.
func (s *Service) guard(h http.HandlerFunc) http.HandlerFunc {
	v := s.verifier
	if v == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if reason := v.check(r); reason != "" {
			refuse(w, reason)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), verifiedKey{}, true)))
	}
}

type verifiedKey struct{}

func verified(r *http.Request) bool {
	ok, _ := r.Context().Value(verifiedKey{}).(bool)
	return ok
}
