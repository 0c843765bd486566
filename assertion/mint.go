package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"sync/atomic"
	"time"
)

// payload is the JWT claims set of an assertion, flat (no embedding: Yaegi marshals embedded
// structs as nested objects). RFC 7519 §4.1 registered claims first, then the decision.
type payload struct {
	Issuer     string   `json:"iss"`
	Audience   string   `json:"aud"`
	Subject    string   `json:"sub,omitempty"`
	Vouched    string   `json:"idp,omitempty"`
	Org        string   `json:"org,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	Permission string   `json:"permission"`
	Route      string   `json:"route"`
	Method     string   `json:"method"`
	Path       string   `json:"path"`
	IssuedAt   int64    `json:"iat"`
	Expires    int64    `json:"exp"`
	ID         string   `json:"jti"`
}

// Mint signs claims with iat = now, exp = now + lifetime, a random jti, the issuer and audience.
// It returns the compact JWS and exp (Unix seconds). It returns "" and 0 only if the system's
// random source or the signature fails: the caller MUST NOT forward the request then.
func (s *Signer) Mint(c Claims, now time.Time) (string, int64) {
	return mint(s, c, now)
}

// mint is Mint as a plain function: under Yaegi a method call on an interpreted type costs more
// than a function call, and this runs on every decision that misses the cache.
func mint(s *Signer, c Claims, now time.Time) (string, int64) {
	jti := newID()
	if jti == "" {
		return "", 0
	}
	iat := now.Unix()
	exp := iat + s.seconds
	body, err := json.Marshal(&payload{
		Issuer: s.issuer, Audience: s.audience,
		Subject: c.Subject, Vouched: c.Vouched, Org: c.Org, Roles: c.Roles,
		Permission: c.Permission, Route: c.Route, Method: c.Method, Path: c.Path,
		IssuedAt: iat, Expires: exp, ID: jti,
	})
	if err != nil {
		return "", 0
	}
	input := s.header + b64.EncodeToString(body)
	sig := sign(s.key, input)
	if sig == nil {
		return "", 0
	}
	publishUntil(s.entry, exp)
	return input + "." + b64.EncodeToString(sig), exp
}

// newID returns 16 random bytes, base64url: the jti (RFC 7519 §4.1.7).
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return b64.EncodeToString(b)
}

// sign returns the JWS signature of input: for ES256 the fixed 64-byte R||S (RFC 7518 §3.4), for
// EdDSA the 64-byte Ed25519 signature (RFC 8037 §3.1). It returns nil if signing fails.
func sign(k *signingKey, input string) []byte {
	if k.ed != nil {
		return ed25519.Sign(k.ed, []byte(input))
	}
	h := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, k.ec, h[:])
	if err != nil {
		return nil
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	ss.FillBytes(out[32:])
	return out
}

// publishUntil records that an assertion signed with e's key is valid until exp, so the key stays
// in every JWKS of its issuer until then (atomic maximum: Mint never takes a lock).
func publishUntil(e *keyEntry, exp int64) {
	for {
		old := atomic.LoadInt64(&e.until)
		if exp <= old || atomic.CompareAndSwapInt64(&e.until, old, exp) {
			return
		}
	}
}
