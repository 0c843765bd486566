package tokens_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

var enc = base64.RawURLEncoding

// signCompact signs payload under header with an Ed25519 or P-256 private key (RFC 7515 §7.1).
func signCompact(t *testing.T, priv interface{}, header map[string]interface{}, payload string) string {
	t.Helper()
	h, _ := json.Marshal(header)
	input := enc.EncodeToString(h) + "." + enc.EncodeToString([]byte(payload))
	var sig []byte
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	return input + "." + enc.EncodeToString(sig)
}

func pemPublic(t *testing.T, pub interface{}) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func pemPrivate(t *testing.T, priv interface{}) string {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// assertionKid is the kid the assertion signer derives for priv: its RFC 7638 thumbprint.
func assertionKid(t *testing.T, priv interface{}) string {
	t.Helper()
	s, err := assertion.New(assertion.Settings{Key: pemPrivate(t, priv), Issuer: "gw", Audience: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(time.Now()), &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("assertion JWKS: %v", err)
	}
	return set.Keys[0].Kid
}

func TestThumbprintIsTheRFC7638ThumbprintTheAssertionSignerUses(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, priv := range map[string]interface{}{"Ed25519": ed, "P-256": ec} {
		var public interface{}
		if k, ok := priv.(ed25519.PrivateKey); ok {
			public = k.Public()
		} else {
			public = &priv.(*ecdsa.PrivateKey).PublicKey
		}
		keys, err := tokens.ParsePEMKeys(pemPublic(t, public))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := tokens.Thumbprint(keys[0]), assertionKid(t, priv); got != want {
			t.Errorf("%s: thumbprint %q, assertion kid %q", name, got, want)
		}
	}
}

func TestVerifyJWS(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edKeys, _ := tokens.ParsePEMKeys(pemPublic(t, ed.Public()))
	ecKeys, _ := tokens.ParsePEMKeys(pemPublic(t, &ec.PublicKey))
	edKid := tokens.Thumbprint(edKeys[0])
	ecKid := tokens.Thumbprint(ecKeys[0])
	both := append(append([]*tokens.Key{}, edKeys...), ecKeys...)
	const typ = "gatehouse-bundle+jws"
	hdr := func(alg, kid string, extra ...interface{}) map[string]interface{} {
		h := map[string]interface{}{"alg": alg, "typ": typ, "rev": 7}
		if kid != "" {
			h["kid"] = kid
		}
		for i := 0; i+1 < len(extra); i += 2 {
			h[extra[i].(string)] = extra[i+1]
		}
		return h
	}
	good := signCompact(t, ed, hdr("EdDSA", edKid), `{"permissions":[]}`)
	cases := []struct {
		name    string
		jws     string
		keys    []*tokens.Key
		wantErr string
	}{
		{"an EdDSA JWS with the key's thumbprint as kid verifies", good, both, ""},
		{"an ES256 JWS with the key's thumbprint as kid verifies", signCompact(t, ec, hdr("ES256", ecKid), `{}`), both, ""},
		{"a JWS without kid verifies with any key of its alg", signCompact(t, ed, hdr("EdDSA", ""), `{}`), both, ""},
		{"a kid no configured key has is refused", signCompact(t, ed, hdr("EdDSA", "someone-else"), `{}`), both, "names none of the configured keys"},
		{"a signature by another key is refused", signCompact(t, other, hdr("EdDSA", edKid), `{}`), both, "does not verify"},
		{"a changed payload is refused", good[:strings.IndexByte(good, '.')+1] + enc.EncodeToString([]byte(`{"permissions":["x"]}`)) + good[strings.LastIndexByte(good, '.'):], both, "does not verify"},
		{"another typ is refused", signCompact(t, ed, hdr("EdDSA", edKid, "typ", "gatehouse-assignments+jws"), `{}`), both, "typ"},
		{"a missing typ is refused", signCompact(t, ed, map[string]interface{}{"alg": "EdDSA", "kid": edKid}, `{}`), both, "typ"},
		{"alg none is refused", signCompact(t, ed, hdr("none", edKid), `{}`), both, "not allowed"},
		{"an HMAC alg is refused", signCompact(t, ed, hdr("HS256", edKid), `{}`), both, "not allowed"},
		{"an ES256 header on an EdDSA signature is refused", signCompact(t, ed, hdr("ES256", ecKid), `{}`), both, "does not verify"},
		{"a key of the wrong type for the alg is not used", signCompact(t, ed, hdr("EdDSA", ""), `{}`), ecKeys, "no configured key verifies EdDSA"},
		{"a crit header is refused", signCompact(t, ed, hdr("EdDSA", edKid, "crit", []string{"exp"}), `{}`), both, "crit"},
		{"b64 false is refused", signCompact(t, ed, hdr("EdDSA", edKid, "b64", false), `{}`), both, "b64"},
		{"a numeric kid is refused", signCompact(t, ed, hdr("EdDSA", "", "kid", 5), `{}`), both, "kid is not a string"},
		{"two parts are refused", good[:strings.LastIndexByte(good, '.')], both, "three base64url parts"},
		{"a line break is refused", good[:10] + "\n" + good[10:], both, "three base64url parts"},
		{"padding in the signature is refused", good + "==", both, "base64url"},
		{"a header that is not JSON is refused", enc.EncodeToString([]byte("nope")) + "." + enc.EncodeToString([]byte("{}")) + ".AAAA", both, "not a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			header, payload, err := tokens.VerifyJWS(c.jws, c.keys, typ)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if header["typ"] != typ || len(payload) == 0 {
					t.Fatalf("header %v payload %q", header, payload)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
			}
		})
	}
	t.Run("the rev of the header is returned as a JSON number", func(t *testing.T) {
		header, _, err := tokens.VerifyJWS(good, both, typ)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := header["rev"].(json.Number); !ok || n.String() != "7" {
			t.Fatalf("rev = %#v", header["rev"])
		}
	})
}

func TestParseVerificationKeys(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPEM := pemPublic(t, ed.Public())
	x := enc.EncodeToString(ed.Public().(ed25519.PublicKey))
	jwk := `{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"` + x + `"}`
	dir := t.TempDir()
	file := filepath.Join(dir, "bundle.pub")
	if err := os.WriteFile(file, []byte(edPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	jwksFile := filepath.Join(dir, "bundle.jwks")
	if err := os.WriteFile(jwksFile, []byte(`{"keys":[`+jwk+`]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		text    string
		want    int
		wantErr string
	}{
		{"a PEM Ed25519 public key", edPEM, 1, ""},
		{"two PEM keys (rotation)", edPEM + pemPublic(t, &ec.PublicKey), 2, ""},
		{"one JWK", jwk, 1, ""},
		{"a JWKS", `{"keys":[` + jwk + `]}`, 1, ""},
		{"a file holding PEM", file, 1, ""},
		{"a file holding a JWKS", jwksFile, 1, ""},
		{"a P-384 key is refused", pemPublic(t, &p384.PublicKey), 0, "Ed25519 (EdDSA) or P-256 (ES256)"},
		{"a private key is refused", pemPrivate(t, ed), 0, "private key"},
		{"a JWKS with no usable key is refused", `{"keys":[{"kty":"oct","k":"AAAA"}]}`, 0, "no usable"},
		{"broken JSON is refused", `{"keys":`, 0, "not valid JSON"},
		{"a missing file is refused", filepath.Join(dir, "missing"), 0, "not a readable file"},
		{"empty is refused", "  ", 0, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, err := tokens.ParseVerificationKeys(c.text)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(keys) != c.want {
				t.Fatalf("keys %d, err %v", len(keys), err)
			}
		})
	}
}
