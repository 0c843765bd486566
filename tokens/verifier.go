package tokens

import (
	"encoding/json"
	"math"
	"strings"
	"time"
)

// MaxTokenSize is the largest token parsed; larger ones are rejected before any decoding.
const MaxTokenSize = 8 << 10

// maxNumericDate bounds exp/nbf/iat (year ~318857): larger values are malformed, not "forever".
const maxNumericDate = 1e13

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
type Verifier struct {
	opts    Options
	methods map[string]*algorithm // the allowed algorithms, chosen once here
	static  map[string][]*Key     // alg → the static keys that may verify it (static keys carry no kid)
	issuers map[string]bool
	leeway  int64
	typ     string
	claims  ClaimNames // with defaults
	cache   *Cache
	now     func() time.Time
}

// NewVerifier builds a verifier. opts must have been validated (known algorithms, at least one key source).
func NewVerifier(opts Options) *Verifier {
	v := &Verifier{opts: opts, methods: map[string]*algorithm{}, static: map[string][]*Key{}, issuers: map[string]bool{}, now: opts.Now}
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
	for _, iss := range opts.Issuers {
		v.issuers[iss] = true
	}
	v.leeway = int64(opts.Leeway / time.Second)
	v.typ = normalizeTyp(opts.RequireTyp)
	v.claims = opts.Claims.withDefaults()
	if v.now == nil {
		v.now = time.Now
	}
	if opts.CacheSize > 0 {
		v.cache = NewCache(opts.CacheSize, opts.CacheBytes)
	}
	return v
}

// Verify checks token and returns the identity it carries. Errors are the sentinels of errors.go.
// A verified token is cached; a cache hit re-checks exp/nbf against the clock and the key's presence.
func (v *Verifier) Verify(token string) (*Identity, error) {
	if len(token) > MaxTokenSize {
		return nil, ErrTooLarge
	}
	now := v.now()
	if v.cache != nil {
		if id := v.cache.Get(token, now.Unix(), v.leeway); id != nil {
			return id, nil
		}
	}
	t, err := v.verify(token, now)
	if err != nil {
		return nil, err
	}
	id, err := v.claims.identity(t.claims, t.exp, t.notBefore)
	if err != nil {
		return nil, err
	}
	id.key = t.key
	if v.cache != nil {
		v.cache.Put(token, id)
	}
	return id, nil
}

// VerifyClaims runs the verification pipeline (size, structure, header, key, signature, registered
// claims) and returns the verified claims and the key that verified them.
func (v *Verifier) VerifyClaims(token string, now time.Time) (map[string]interface{}, *Key, error) {
	t, err := v.verify(token, now)
	if err != nil {
		return nil, nil, err
	}
	return t.claims, t.key, nil
}

// verified is what the pipeline establishes about a token.
type verified struct {
	claims    map[string]interface{}
	key       *Key
	exp       int64 // Unix seconds
	notBefore int64 // the later of nbf and iat; 0 if neither
}

func (v *Verifier) verify(token string, now time.Time) (*verified, error) {
	if len(token) > MaxTokenSize {
		return nil, ErrTooLarge
	}
	if hasLineBreak(token) {
		return nil, ErrMalformed // base64 decoding would skip CR/LF: one token, one spelling
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	if dot1 < 0 || dot1 == dot2 || strings.IndexByte(token[dot1+1:dot2], '.') >= 0 {
		return nil, ErrMalformed
	}
	var header map[string]interface{}
	if !decodeJSON(token[:dot1], &header) {
		return nil, ErrMalformed
	}
	alg, err := v.checkHeader(header)
	if err != nil {
		return nil, err
	}
	sig, err := b64url.DecodeString(token[dot2+1:])
	if err != nil {
		return nil, ErrMalformed
	}
	var claims map[string]interface{}
	if !decodeJSON(token[dot1+1:dot2], &claims) {
		return nil, ErrMalformed
	}
	keys, err := v.candidates(header, alg, claims, now)
	if err != nil {
		return nil, err
	}
	key := v.verifySignature(token[:dot2], sig, alg, keys)
	if key == nil {
		return nil, ErrSignature
	}
	exp, notBefore, err := v.checkClaims(claims, now.Unix())
	if err != nil {
		return nil, err
	}
	t := &verified{claims: claims, key: key, exp: exp, notBefore: notBefore}
	return t, nil
}

// decodeJSON decodes a strict base64url segment holding a JSON object (RFC 7515 §5.2 steps 2-3, 6).
func decodeJSON(segment string, into *map[string]interface{}) bool {
	raw, err := b64url.DecodeString(segment)
	if err != nil {
		return false
	}
	return json.Unmarshal(raw, into) == nil && *into != nil
}

// checkHeader enforces the JOSE header rules and returns alg. alg, kid and typ are strings when
// present (RFC 7515 §4.1.1, §4.1.4, §4.1.9): another JSON type is malformed, not ignored. Straight
// lookups, no helper calls: this runs on every uncached request.
func (v *Verifier) checkHeader(h map[string]interface{}) (string, error) {
	alg, ok := h["alg"].(string)
	if !ok {
		if _, present := h["alg"]; present {
			return "", ErrMalformed
		}
	}
	if raw, present := h["kid"]; present {
		if _, ok := raw.(string); !ok {
			return "", ErrMalformed
		}
	}
	if raw, present := h["typ"]; present {
		if _, ok := raw.(string); !ok {
			return "", ErrMalformed
		}
	}
	if v.methods[alg] == nil {
		return "", ErrAlgorithm
	}
	if _, ok := h["crit"]; ok {
		return "", ErrCritical
	}
	if v.typ != "" {
		typ, _ := h["typ"].(string)
		if normalizeTyp(typ) != v.typ {
			return "", ErrType
		}
	}
	return alg, nil
}

// normalizeTyp applies RFC 7515 §4.1.9: media types compare case-insensitively and "application/" may be omitted.
func normalizeTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// candidates returns the keys that may verify the token. jku, x5u, jwk and x5c are never used.
func (v *Verifier) candidates(header map[string]interface{}, alg string, claims map[string]interface{}, now time.Time) ([]*Key, error) {
	if keys := v.static[alg]; len(keys) > 0 {
		return keys, nil
	}
	kid, _ := header["kid"].(string)
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
	keys, err := sets[0].Candidates(kid, alg, now)
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// verifySignature returns the first of keys under which sig verifies the signing input, or nil.
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

// checkClaims validates the registered claims (RFC 7519 §4.1) after the signature and returns exp
// and the later of nbf and iat.
func (v *Verifier) checkClaims(c map[string]interface{}, now int64) (int64, int64, error) {
	exp, ok := numericDate(c, "exp")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if exp == 0 {
		return 0, 0, ErrMissingExp
	}
	if now >= exp+v.leeway {
		return 0, 0, ErrExpired
	}
	nbf, ok := numericDate(c, "nbf")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if nbf != 0 && now < nbf-v.leeway {
		return 0, 0, ErrNotYetValid
	}
	iat, ok := numericDate(c, "iat")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if iat != 0 && now < iat-v.leeway {
		return 0, 0, ErrNotYetValid
	}
	if len(v.issuers) > 0 {
		iss, _ := c["iss"].(string)
		if !v.issuers[iss] {
			return 0, 0, ErrIssuer
		}
	}
	if len(v.opts.Audiences) > 0 && !v.audienceOK(c["aud"]) {
		return 0, 0, ErrAudience
	}
	if iat > nbf {
		nbf = iat
	}
	return exp, nbf, nil
}

// numericDate reads a NumericDate claim as whole seconds (floor). Absent or 0 reads as 0.
// A non-number or an absurdly large value is malformed.
func numericDate(c map[string]interface{}, name string) (int64, bool) {
	raw, present := c[name]
	if !present {
		return 0, true
	}
	f, ok := raw.(float64)
	if !ok || math.Abs(f) > maxNumericDate {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

func (v *Verifier) audienceOK(aud interface{}) bool {
	switch a := aud.(type) {
	case string:
		return a != "" && contains(v.opts.Audiences, a)
	case []interface{}:
		found := false
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return false
			}
			if contains(v.opts.Audiences, s) {
				found = true
			}
		}
		return found
	}
	return false
}
