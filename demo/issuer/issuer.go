// Package issuer is the demo token issuer. It is NOT an identity provider: anyone who can reach it
// gets a token for any seeded subject. It serves an OIDC discovery document, a JWKS holding an
// ES256 and an RS256 key (plus the previous generation after a rotation), and short-lived access
// tokens.
package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subject is a seeded demo user.
type Subject struct {
	Org   string
	Roles []string
}

// Subjects are the seeded users. svc-ci has no role in its token: its role comes from the policy
// file's assignments. svc-gateway is the gateway's service account for the control plane (go run
// . -postgres, compose.postgres.yaml), which gives it the role gatehouse-gateway.
var Subjects = map[string]Subject{
	"alice":  {Org: "acme", Roles: []string{"admin"}},
	"bob":    {Org: "acme", Roles: []string{"developer"}},
	"carol":  {Org: "acme", Roles: []string{"analyst"}},
	"dave":   {Org: "acme", Roles: []string{"viewer"}},
	"erin":   {Org: "globex", Roles: []string{"admin"}},
	"svc-ci": {Org: "acme"},

	"svc-gateway": {Org: "acme"},
}

// Audience is the audience of every demo token.
const Audience = "workflows-api"

type signingKey struct {
	kid string
	key crypto.Signer
}

// Issuer issues demo tokens. Safe for concurrent use.
type Issuer struct {
	name string
	id   string // random, in every kid: two issuers of one process (tests) never share a kid

	mu         sync.Mutex
	generation int
	current    map[string]signingKey // by alg: ES256, RS256
	previous   map[string]signingKey
}

// New returns an issuer whose iss claim and discovery URLs use name (e.g. http://issuer:9000).
func New(name string) (*Issuer, error) {
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	i := &Issuer{name: name, id: hex.EncodeToString(id)}
	if err := i.Rotate(); err != nil {
		return nil, err
	}
	return i, nil
}

// Rotate makes a new ES256 and RS256 key current; the previous keys stay published so that tokens
// they signed keep verifying until they expire.
func (i *Issuer) Rotate() error {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.generation++
	i.previous = i.current
	i.current = map[string]signingKey{
		"ES256": {kid: fmt.Sprintf("es256-%s-%d", i.id, i.generation), key: ec},
		"RS256": {kid: fmt.Sprintf("rs256-%s-%d", i.id, i.generation), key: rs},
	}
	return nil
}

// Token issues an access token for a seeded subject, valid for ttl (negative: already expired).
func (i *Issuer) Token(sub, alg string, ttl time.Duration) (string, error) {
	s, ok := Subjects[sub]
	if !ok {
		return "", fmt.Errorf("unknown subject %q", sub)
	}
	if alg == "" {
		alg = "ES256"
	}
	i.mu.Lock()
	k, ok := i.current[alg]
	i.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("unsupported alg %q (ES256 or RS256)", alg)
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": i.name, "aud": Audience, "sub": sub, "org_id": s.Org, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if ttl < 0 {
		claims["iat"] = now.Add(2 * ttl).Unix()
	}
	if len(s.Roles) > 0 {
		claims["roles"] = s.Roles
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	tok.Header["kid"] = k.kid
	tok.Header["typ"] = "at+jwt"
	return tok.SignedString(k.key)
}

// Handler serves /.well-known/openid-configuration, /jwks, POST /token and POST /rotate.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"issuer": i.name, "jwks_uri": i.name + "/jwks", "token_endpoint": i.name + "/token"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, i.jwks()) })
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		ttl := 5 * time.Minute
		if s := r.FormValue("ttl"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				writeJSON(w, 400, map[string]string{"error": "ttl must be a duration such as 5m or -2m"})
				return
			}
			ttl = d
		}
		tok, err := i.Token(r.FormValue("sub"), r.FormValue("alg"), ttl)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]interface{}{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		if err := i.Rotate(); err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		i.mu.Lock()
		g := i.generation
		i.mu.Unlock()
		writeJSON(w, 200, map[string]string{"rotated": "generation " + strconv.Itoa(g)})
	})
	return mux
}

func (i *Issuer) jwks() map[string]interface{} {
	i.mu.Lock()
	defer i.mu.Unlock()
	var keys []map[string]string
	for _, set := range []map[string]signingKey{i.current, i.previous} {
		for _, alg := range []string{"ES256", "RS256"} {
			if k, ok := set[alg]; ok {
				keys = append(keys, publicJWK(k, alg))
			}
		}
	}
	return map[string]interface{}{"keys": keys}
}

func publicJWK(k signingKey, alg string) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.key.Public().(type) {
	case *ecdsa.PublicKey:
		x, y := make([]byte, 32), make([]byte, 32)
		pub.X.FillBytes(x)
		pub.Y.FillBytes(y)
		return map[string]string{"kty": "EC", "crv": "P-256", "kid": k.kid, "alg": alg, "use": "sig", "x": b64(x), "y": b64(y)}
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.kid, "alg": alg, "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
