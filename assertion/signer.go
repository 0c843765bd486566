// Package assertion mints the signed identity assertion Gatehouse forwards on an allowed request: a
// short-lived compact JWS (RFC 7515 §7.1) whose claims are the decision (who, vouched for by which
// issuer, in which org, with which roles, for which permission, route, method and path), signed
// with ES256 or EdDSA, and the public JWK Set (RFC 7517 §5) a backend verifies it with.
//
// A Signer is built once by New and is read-only afterwards: Mint, JWKS and Lifetime are safe for
// concurrent use. Public keys are also remembered process-wide per Issuer, so that the JWK Set any
// Signer publishes keeps the keys of earlier Signers (an earlier configuration generation) while
// assertions they minted can still be valid.
//
// The package uses the standard library only and stays within what Yaegi v0.16.1 runs.
package assertion

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Lifetime bounds and default.
const (
	DefaultLifetime = 60 * time.Second
	MinLifetime     = 5 * time.Second
	MaxLifetime     = time.Hour
)

// Typ is the JWS "typ" header of every assertion: explicit typing (RFC 8725 §3.11) keeps an
// assertion from being mistaken for another kind of JWT by a verifier that checks it.
const Typ = "gatehouse-assertion+jwt"

// Settings configure a Signer. All fields are validated by New; errors name the field
// ("assertion.key: ...", "assertion.lifetime: ...").
type Settings struct {
	Key      string        // PEM private key, inline or a file path: EC P-256 (ES256) or Ed25519 (EdDSA)
	KeyID    string        // kid; default: the RFC 7638 JWK thumbprint of the public key
	Issuer   string        // iss of the assertions: the gateway's name, required (e.g. "https://gateway.example.com")
	Audience string        // aud, required; the middleware passes its name when unset
	Lifetime time.Duration // default 60s; at least 5s, at most 1h, whole seconds
}

// Claims are the decision an assertion carries. Empty Subject, Vouched, Org and Roles are left out
// of the JWT (a public route has no subject); the others are always present.
type Claims struct {
	Subject    string   // sub
	Vouched    string   // idp: the iss of the verified token, the issuer that vouched for the subject
	Org        string   // org: the org the decision was made in
	Roles      []string // roles: the roles that counted in that org
	Permission string   // permission: what the route required ("authenticated" and "public" too)
	Route      string   // route: the matched route declaration
	Method     string   // method: the request method
	Path       string   // path: the escaped request path the decision was made on
}

// Signer mints assertions with one key. Build it with New.
type Signer struct {
	key      *signingKey
	kid      string
	issuer   string
	audience string
	lifetime time.Duration
	seconds  int64  // lifetime in seconds
	header   string // base64url of the JOSE header, then "."
	jwk      []byte // this Signer's public JWK
	entry    *keyEntry
}

// New validates s, reporting every problem at once (one line each, naming the setting), parses the
// key and registers its public key under s.Issuer for JWKS.
func New(s Settings) (*Signer, error) {
	return newSigner(s, time.Now())
}

func newSigner(s Settings, now time.Time) (*Signer, error) {
	var problems []error
	issuer := checkName(&problems, "assertion.issuer", s.Issuer, true, true)
	audience := checkName(&problems, "assertion.audience", s.Audience, true, true)
	kid := checkName(&problems, "assertion.keyId", s.KeyID, false, false)
	lifetime := checkLifetime(&problems, s.Lifetime)
	key, err := loadKey(s.Key)
	if err != nil {
		problems = append(problems, fmt.Errorf("assertion.key: %w", err))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if kid == "" {
		kid = key.thumb
	}
	return build(key, kid, issuer, audience, lifetime, now)
}

// build derives the header segment and the public JWK once, and registers the key.
func build(key *signingKey, kid, issuer, audience string, lifetime time.Duration, now time.Time) (*Signer, error) {
	header, err := json.Marshal(map[string]string{"alg": key.alg, "kid": kid, "typ": Typ})
	if err != nil {
		return nil, err
	}
	jwk, err := publicJWK(key, kid)
	if err != nil {
		return nil, err
	}
	s := &Signer{key: key, kid: kid, issuer: issuer, audience: audience, lifetime: lifetime, jwk: jwk}
	s.seconds = int64(lifetime / time.Second)
	s.header = b64.EncodeToString(header) + "."
	s.entry = register(issuer, key.thumb, kid, jwk, s.seconds, now.Unix())
	return s, nil
}

// loadKey reads and parses the key setting.
func loadKey(entry string) (*signingKey, error) {
	if strings.TrimSpace(entry) == "" {
		return nil, fmt.Errorf("%w (an EC P-256 or Ed25519 private key: inline PEM or a file path)", ErrRequired)
	}
	data, err := readKey(entry)
	if err != nil {
		return nil, err
	}
	return parseKey(data)
}

// Lifetime returns the configured lifetime.
func (s *Signer) Lifetime() time.Duration { return s.lifetime }

// KeyID returns the kid of the signing key.
func (s *Signer) KeyID() string { return s.kid }

// checkName validates a string claim or header value given in configuration: no surrounding white
// space, no control characters, and for a claim (uri) a value with a colon must be a URI
// (RFC 7519 §2 StringOrURI; a kid is a plain string, RFC 7515 §4.1.4).
func checkName(problems *[]error, where, v string, required, uri bool) string {
	if v == "" {
		if required {
			*problems = append(*problems, fmt.Errorf("%s: %w", where, ErrRequired))
		}
		return ""
	}
	if strings.TrimSpace(v) != v || !safeText(v) {
		*problems = append(*problems, fmt.Errorf("%s: %w: no surrounding white space or control characters", where, ErrValue))
		return ""
	}
	if uri && strings.Contains(v, ":") {
		if u, err := url.Parse(v); err != nil || u.Scheme == "" {
			*problems = append(*problems, fmt.Errorf("%s: %w: a value with a colon must be a URI (RFC 7519 §2)", where, ErrValue))
			return ""
		}
	}
	return v
}

// checkLifetime resolves the lifetime: 0 is the default; otherwise whole seconds within bounds.
func checkLifetime(problems *[]error, d time.Duration) time.Duration {
	if d == 0 {
		return DefaultLifetime
	}
	if d < MinLifetime || d > MaxLifetime || d%time.Second != 0 {
		*problems = append(*problems, fmt.Errorf("assertion.lifetime: %w: want whole seconds from 5s to 1h, not %s", ErrLifetime, d.String()))
		return DefaultLifetime
	}
	return d
}

// safeText reports whether s holds no C0 control character and no DEL.
func safeText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}
