package tokens

import (
	"encoding/json"
	"math"
	"strings"
	"sync"
	"time"
)

// MaxTokenSize is the largest token parsed; larger ones are rejected before any decoding.
const MaxTokenSize = 8 << 10

// maxNumericDate bounds exp/nbf/iat (year ~318857): larger values are malformed, not "forever".
const maxNumericDate = 1e13

// beforeAnyDate is below every NumericDate verifyToken accepts (they are within ±maxNumericDate).
const beforeAnyDate = math.MinInt64

// Options configure a Verifier. All slices are read-only after NewVerifier.
type Options struct {
	Issuers        []string              // trusted iss values; empty: iss not checked
	Audiences      []string              // aud must contain one; empty: aud not checked
	Algorithms     []string              // allowlist, validated by the caller
	Leeway         time.Duration         // clock skew for exp, nbf and iat (whole seconds)
	RequireTyp     string                // e.g. "at+jwt" (RFC 9068 §4); empty: typ not checked
	Static         []*Key                // keys from configuration
	Remote         []*RemoteSet          // used for every issuer when RemoteByIssuer is empty
	RemoteByIssuer map[string]*RemoteSet // OIDC discovery: the key set of each issuer
	Claims         ClaimNames            // how identity is read from claims
	CacheSize      int                   // verified-token cache bound; 0 disables the cache
	CacheBytes     int64                 // verified-token cache byte budget; 0: DefaultCacheBytes (8 MiB)
	Now            func() time.Time      // clock; time.Now when nil
}

// Verifier verifies compact JWS tokens and maps them to identities. It is safe for concurrent use.
//
// Under Yaegi a method call on an interpreted type costs about five plain function calls (it
// allocates a method value), so the request path is the exported methods, then plain functions that
// take the verifier: verifyToken, verifyJWS and mapIdentity.
type Verifier struct {
	opts      Options
	methods   map[string]*algorithm // the allowed algorithms, chosen once here
	static    map[string][]*Key     // alg → the static keys that may verify it (static keys carry no kid)
	issuers   map[string]bool       // nil: iss not checked
	audiences map[string]bool       // nil: aud not checked
	leeway    int64
	typ       string
	names     *ClaimNames // with defaults
	paths     []string    // the claim names that hold a dot (resolvePaths); nil when none
	cache     *Cache
	now       func() time.Time // Options.Now, or time.Now

	headers     *sync.Map  // header segment → *jwsHeader, of tokens that verified (rememberHeader)
	headerMu    sync.Mutex // guards headerCount
	headerCount int
}

// NewVerifier builds a verifier. opts must have been validated (known algorithms, at least one key source).
func NewVerifier(opts Options) *Verifier {
	v := &Verifier{opts: opts, methods: map[string]*algorithm{}, static: map[string][]*Key{}, now: opts.Now, headers: &sync.Map{}}
	if v.now == nil {
		v.now = time.Now // called through the field: under Yaegi no dearer than time.Now, and no clock frame
	}
	for _, alg := range opts.Algorithms {
		a := joseAlgorithms[alg]
		if a == nil {
			continue // unknown names never verify (fail closed)
		}
		v.methods[alg] = a
		for _, k := range opts.Static {
			if k.Accepts(alg) {
				v.static[alg] = append(v.static[alg], k)
			}
		}
	}
	if len(opts.Issuers) > 0 {
		v.issuers = map[string]bool{}
		for _, iss := range opts.Issuers {
			v.issuers[iss] = true
		}
	}
	if len(opts.Audiences) > 0 {
		v.audiences = map[string]bool{}
		for _, aud := range opts.Audiences {
			v.audiences[aud] = true
		}
	}
	v.leeway = int64(opts.Leeway / time.Second)
	v.typ = normalizeTyp(opts.RequireTyp)
	names := opts.Claims.withDefaults()
	v.names = &names
	v.paths = names.paths()
	if opts.CacheSize > 0 {
		v.cache = NewCache(opts.CacheSize, opts.CacheBytes)
	}
	return v
}

// Verify checks token and returns the identity it carries. Errors are the sentinels of errors.go.
// A verified token is cached; a cache hit re-checks exp/nbf against the clock and the key's presence.
//
// Under Yaegi the body is what a verifier without a cache (cacheSize 0) runs; the cache is looked at
// in verifyCached, so that this frame does not hold that code's slots.
func (v *Verifier) Verify(token string) (*Identity, error) { return VerifyToken(v, token) }

// VerifyToken is Verify as a plain function, the one implementation: under Yaegi a method call
// costs about 28 allocations more than a plain call, and every request decided afresh makes it.
func VerifyToken(v *Verifier, token string) (*Identity, error) {
	if v.cache != nil {
		return verifyCached(v, token)
	}
	claims, id, err := verifyToken(v, token, v.now())
	switch err { // no slot for the comparison, as in verifyToken
	case nil:
	default:
		return nil, err
	}
	if v.paths != nil {
		resolvePaths(claims, v.paths)
	}
	if bad := mapIdentity(v.names, claims, id); bad != "" {
		return nil, claimError(bad)
	}
	return id, nil
}

// verifyCached is Verify with the verified-token cache: a peek first, so that a token seen for the
// first time costs one lock and one index, not a call (cacheGet re-reads the entry and checks it
// under its own lock).
func verifyCached(v *Verifier, token string) (*Identity, error) {
	now := v.now()
	c := v.cache // one selector, not one per use
	c.mu.Lock()
	_, seen := c.entries[token]
	c.mu.Unlock()
	if seen {
		if id := cacheGet(c, token, now.Unix(), v.leeway); id != nil {
			return id, nil
		}
	}
	claims, id, err := verifyToken(v, token, now)
	switch err { // no slot for the comparison, as in verifyToken
	case nil:
	default:
		return nil, err
	}
	if v.paths != nil {
		resolvePaths(claims, v.paths)
	}
	if bad := mapIdentity(v.names, claims, id); bad != "" {
		return nil, claimError(bad)
	}
	// The estimate is stored before the identity is shared: BytesOf (the middleware's decision cache)
	// reads it instead of computing it again.
	id.bytes = identityBytes(id)
	cachePut(c, token, id, id.bytes)
	return id, nil
}

// VerifyClaims runs the verification pipeline (size, structure, header, key, signature, registered
// claims) and returns the verified claims and the key that verified them.
func (v *Verifier) VerifyClaims(token string, now time.Time) (map[string]interface{}, *Key, error) {
	claims, id, err := verifyToken(v, token, now)
	if err != nil {
		return nil, nil, err
	}
	return claims, id.key, nil
}

// registeredDates are the NumericDate claims (RFC 7519 §4.1.4-6) in the order verifyToken reads
// them into its dates array.
var registeredDates = []string{"exp", "nbf", "iat"}

// verifyToken is the verification pipeline of RFC 7515 §5.2 and RFC 7519 §7.2, in this order: size,
// three segments, the JOSE header, the key, the signature, then the registered claims, which are
// trusted only after the signature. It returns the claims and an Identity that holds only what
// verification established: the key that verified the token, exp and the later of nbf and iat (0
// if neither), as Unix seconds, and iss when it is a string (checked against the trusted issuers
// when there are any; mapIdentity checks its value); mapIdentity fills in the rest. (Three
// results, not five: under Yaegi every result a call returns costs about four allocations.)
//
// It is written for Yaegi (see docs/yaegi.md, "Cold path measurements"): one function for the steps
// every token takes, because each interpreted call costs; little code in it, because a call
// allocates a slot for every variable and intermediate value of the function, executed or not, so
// the steps a token may skip (header checks once the header is known, remote keys, the audience
// array) are functions of their own, the three NumericDates are read by one loop body, and no
// condition is written with && or || (each of those is one more slot). The dates' d, f, ok and
// present are defined by their comma-ok statements, not by var statements (a var without a value
// allocates a fresh zero value on every call under Yaegi); Yaegi leaves the value unchanged when a
// comma-ok assignment ("d, present := m[k]", "f, ok := d.(float64)") fails, and the loop body
// reuses their slots, so a value is read only after its ok or present.
func verifyToken(v *Verifier, token string, now time.Time) (map[string]interface{}, *Identity, error) {
	if len(token) > MaxTokenSize {
		return nil, nil, ErrTooLarge
	}
	if containsAny(token, "\r\n") {
		return nil, nil, ErrMalformed // base64 decoding would skip CR/LF: one token, one spelling
	}
	parts := splitN(token, ".", 4)
	if len(parts) != 3 {
		return nil, nil, ErrMalformed
	}
	head := parts[0]
	// The header: a segment whose token verified before is known (see rememberHeader).
	// (h and known are defined by the assertion, not by a var statement, which allocates a zero
	// value on every call under Yaegi; the cache holds only *jwsHeader values.)
	cached, _ := v.headers.Load(head)
	h, known := cached.(*jwsHeader)
	var err error
	// Each error is tested by a tagged switch on the error, which costs the frame no slot where
	// err != nil costs one (docs/yaegi.md; under Yaegi v0.16.1 case nil matches a nil interface, but
	// not a nil pointer or map: claims and key keep their == nil).
	if known {
		// a header of a token verified before
	} else {
		h, err = checkHeader(v, head)
		switch err {
		case nil:
		default:
			return nil, nil, err
		}
	}
	sig, err := decodeSegment(parts[2])
	switch err {
	case nil:
	default:
		return nil, nil, ErrMalformed
	}
	// The payload: a JSON object (RFC 7519 §7.2 steps 9-10).
	raw, err := decodeSegment(parts[1])
	switch err {
	case nil:
	default:
		return nil, nil, ErrMalformed
	}
	var claims map[string]interface{}
	err = unmarshalJSON(raw, &claims)
	switch err {
	case nil:
	default:
		return nil, nil, ErrMalformed
	}
	if claims == nil {
		return nil, nil, ErrMalformed // "null"
	}
	keys := h.keys // nil when alg has no static key (NewVerifier appends each list, never leaves one empty)
	if keys == nil {
		keys, err = remoteCandidates(v, h, claims, now)
		switch err {
		case nil:
		default:
			return nil, nil, err
		}
	}
	raw = []byte(token[:len(head)+1+len(parts[1])]) // the signing input
	var key *Key
	for _, k := range keys {
		if verifyJWS(h.a, k, raw, sig) {
			key = k
			break
		}
	}
	if key == nil {
		return nil, nil, ErrSignature
	}
	if !known {
		rememberHeader(v, head, h)
	}
	// The registered claims (RFC 7519 §4.1). A NumericDate (exp, nbf, iat) absent or 0 reads as 0, a
	// non-number or a value beyond maxNumericDate is malformed, and fractions of seconds are floored.
	// Each date is checked as soon as it is read, so that errors come in the order of RFC 7519 §7.2:
	// exp (missing, expired), then nbf, then iat (not yet valid).
	unix := now.Unix()
	var exp, t int64
	var notBefore int64 = beforeAnyDate // then nbf (0 when absent), then the later of nbf and iat
	for i, name := range registeredDates {
		t = 0
		// d, present, f and ok are one slot each for the three dates; a failed comma-ok leaves its
		// value unchanged under Yaegi, so d and f are read only after their present or ok.
		if d, present := claims[name]; present {
			if f, ok := d.(float64); ok { // ok, not !ok: one slot fewer
				if f > maxNumericDate {
					return nil, nil, ErrMalformed
				}
				if f < -maxNumericDate {
					return nil, nil, ErrMalformed
				}
				if t = int64(f); float64(t) > f {
					t-- // floor, for negative fractions
				}
			} else {
				return nil, nil, ErrMalformed
			}
		}
		if i == 0 {
			if t == 0 {
				return nil, nil, ErrMissingExp
			}
			if unix >= t+v.leeway {
				return nil, nil, ErrExpired
			}
			exp = t
		} else {
			if t != 0 {
				if unix < t-v.leeway {
					return nil, nil, ErrNotYetValid
				}
			}
			if t > notBefore {
				notBefore = t
			}
		}
	}
	iss, _ := claims["iss"].(string) // a fresh variable: "" when iss is absent or no string
	if v.issuers != nil {
		if v.issuers[iss] {
			// trusted (the empty branch spares the frame a !)
		} else {
			return nil, nil, ErrIssuer
		}
	}
	if v.audiences != nil {
		if audienceRefused(v.audiences, claims["aud"]) {
			return nil, nil, ErrAudience
		}
	}
	return claims, &Identity{Issuer: iss, Expires: exp, NotBefore: notBefore, key: key}, nil
}

// jwsHeader is what checkHeader establishes about a JOSE header segment.
type jwsHeader struct {
	a    *algorithm
	alg  string
	keys []*Key // the static keys of alg
	kid  string
}

// Bounds of a verifier's known headers: headers repeat (one per issuer key and algorithm), and only
// those of tokens whose signature verified are remembered, so a forger cannot fill the table.
const (
	maxKnownHeaders   = 16
	maxKnownHeaderLen = 256 // base64url characters
)

// checkHeader decodes a header segment, a strict base64url JSON object (RFC 7515 §5.2 steps 2-3),
// and enforces the JOSE header rules: alg, kid and typ are strings when present (§4.1.1, §4.1.4,
// §4.1.9; another JSON type is malformed, not ignored), alg is allowed, crit is absent (§4.1.11: no
// extension is understood), and typ matches requireTyp as normalizeTyp compares.
func checkHeader(v *Verifier, segment string) (*jwsHeader, error) {
	raw, err := b64url.DecodeString(segment)
	if err != nil {
		return nil, ErrMalformed
	}
	var header map[string]interface{}
	if json.Unmarshal(raw, &header) != nil || header == nil {
		return nil, ErrMalformed
	}
	// d, ok and present are reused: Yaegi leaves a value unchanged when a comma-ok assignment
	// fails, so a value is read only after its ok is checked (see verifyToken).
	var d interface{}
	var ok, present bool
	h := &jwsHeader{}
	var typ string
	if d, present = header["alg"]; present {
		if h.alg, ok = d.(string); !ok {
			return nil, ErrMalformed
		}
	}
	if d, present = header["kid"]; present {
		if h.kid, ok = d.(string); !ok {
			return nil, ErrMalformed
		}
	}
	if d, present = header["typ"]; present {
		if typ, ok = d.(string); !ok {
			return nil, ErrMalformed
		}
	}
	if h.a = v.methods[h.alg]; h.a == nil {
		return nil, ErrAlgorithm
	}
	h.keys = v.static[h.alg]
	if _, present = header["crit"]; present {
		return nil, ErrCritical
	}
	if v.typ != "" && normalizeTyp(typ) != v.typ {
		return nil, ErrType
	}
	return h, nil
}

// rememberHeader records the checked header of a token whose signature verified, so that the next
// token with the same header segment skips its decoding and checks (they depend only on the
// segment and the verifier's settings). It keeps at most maxKnownHeaders segments of at most
// maxKnownHeaderLen characters.
func rememberHeader(v *Verifier, segment string, h *jwsHeader) {
	if len(segment) > maxKnownHeaderLen {
		return
	}
	v.headerMu.Lock()
	if v.headerCount < maxKnownHeaders {
		if _, loaded := v.headers.LoadOrStore(segment, h); !loaded {
			v.headerCount++
		}
	}
	v.headerMu.Unlock()
}

// normalizeTyp applies RFC 7515 §4.1.9: media types compare case-insensitively and "application/" may be omitted.
func normalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// remoteCandidates returns the keys of the remote key sets that may verify the token (static keys,
// when the algorithm has any, are used instead). jku, x5u, jwk and x5c are never used.
func remoteCandidates(v *Verifier, h *jwsHeader, claims map[string]interface{}, now time.Time) ([]*Key, error) {
	sets := v.opts.Remote
	if v.opts.RemoteByIssuer != nil {
		iss, _ := claims["iss"].(string)
		set := v.opts.RemoteByIssuer[iss]
		if set == nil {
			return nil, ErrIssuer
		}
		sets = []*RemoteSet{set}
	}
	if len(sets) == 0 {
		return nil, ErrUnknownKey
	}
	keys, err := remoteKeys(sets[0], h.kid, h.alg, now)
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// verifySignature returns the first of keys under which sig verifies the signing input, or nil
// (verifyToken has this loop inline; the RFC conformance tests call it).
func (v *Verifier) verifySignature(signed string, sig []byte, alg string, keys []*Key) *Key {
	a := v.methods[alg]
	input := []byte(signed)
	for _, k := range keys {
		if verifyJWS(a, k, input, sig) {
			return k
		}
	}
	return nil
}

// audienceRefused reports whether aud is refused: it must be an accepted non-empty string, or an
// array of strings of which one is accepted (RFC 7519 §4.1.3); any other type is refused. (Refused
// rather than OK, so that verifyToken tests it without a !: under Yaegi one slot fewer.)
func audienceRefused(accepted map[string]bool, aud interface{}) bool {
	if s, isString := aud.(string); isString {
		if s == "" {
			return true // an empty audience names no one, even where "" is configured
		}
		if accepted[s] {
			return false
		}
		return true
	}
	return audienceListRefused(accepted, aud)
}

// audienceListRefused is audienceRefused for an aud that is not a string: refused unless it is an
// array of strings of which one is accepted.
func audienceListRefused(accepted map[string]bool, aud interface{}) bool {
	list, ok := aud.([]interface{})
	if !ok {
		return true
	}
	found := false
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return true
		}
		if accepted[s] {
			found = true
		}
	}
	return !found
}
