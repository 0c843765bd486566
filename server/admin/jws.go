package admin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strconv"
)

// Media types and JOSE typ values of the signed answers (docs/control-plane.md).
const (
	TypBundle      = "gatehouse-bundle+jws"
	TypAssignments = "gatehouse-assignments+jws"
)

// SigningKey signs bundles and per-subject answers as compact JWS (RFC 7515 Section 7.1) with
// deterministic signatures: Ed25519 (EdDSA) is deterministic by construction, ECDSA P-256 (ES256)
// is made deterministic by RFC 6979 (crypto/ecdsa signs that way when given no random source), so
// every replica with the same key serves the same bytes for the same revision.
type SigningKey struct {
	alg  string // EdDSA or ES256
	kid  string // RFC 7638 thumbprint of the public key
	ed   ed25519.PrivateKey
	ec   *ecdsa.PrivateKey
	jwk  map[string]string // the public JWK (without kid, alg, use)
	spki []byte            // the public key, PKIX DER
}

// LoadSigningKey reads a PKCS#8 PEM private key (Ed25519 or EC P-256) from path.
func LoadSigningKey(path string) (*SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSigningKey(data)
}

// ParseSigningKey parses a PKCS#8 PEM private key (Ed25519 or EC P-256; "EC PRIVATE KEY" SEC 1 is
// accepted too for P-256).
func ParseSigningKey(data []byte) (*SigningKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: want a PKCS#8 private key (Ed25519 or EC P-256)")
	}
	if b, _ := pem.Decode(rest); b != nil {
		return nil, errors.New("more than one PEM block: want one private key")
	}
	var key interface{}
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want a PKCS#8 PRIVATE KEY (Ed25519 or EC P-256)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %v", err)
	}
	k := &SigningKey{}
	switch t := key.(type) {
	case ed25519.PrivateKey:
		k.alg, k.ed = "EdDSA", t
		pub := t.Public().(ed25519.PublicKey)
		k.jwk = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
		k.spki, err = x509.MarshalPKIXPublicKey(pub)
	case *ecdsa.PrivateKey:
		if t.Curve != elliptic.P256() {
			return nil, errors.New("EC key: want the P-256 curve (ES256)")
		}
		k.alg, k.ec = "ES256", t
		pub, perr := t.PublicKey.Bytes() // uncompressed point: 0x04 || X || Y
		if perr != nil {
			return nil, perr
		}
		k.jwk = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:])}
		k.spki, err = x509.MarshalPKIXPublicKey(&t.PublicKey)
	default:
		return nil, fmt.Errorf("a %T key: want Ed25519 or EC P-256", key)
	}
	if err != nil {
		return nil, err
	}
	k.kid = thumbprint(k.jwk)
	return k, nil
}

// Algorithm returns EdDSA or ES256.
func (k *SigningKey) Algorithm() string { return k.alg }

// KeyID returns the RFC 7638 thumbprint of the public key, the kid of every signature.
func (k *SigningKey) KeyID() string { return k.kid }

// PublicPEM returns the public key as a PEM "PUBLIC KEY" block (PKIX).
func (k *SigningKey) PublicPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: k.spki})
}

// JWKS returns the public key as a JWK Set: {"keys":[{...,"kid","alg","use":"sig"}]}.
func (k *SigningKey) JWKS() []byte {
	jwk := map[string]string{"kid": k.kid, "alg": k.alg, "use": "sig"}
	for n, v := range k.jwk {
		jwk[n] = v
	}
	b, _ := json.Marshal(map[string][]map[string]string{"keys": {jwk}}) // maps marshal sorted
	return b
}

// Sign returns the compact JWS of payload with the protected header
// {"alg","kid","typ","rev"}, in that order.
func (k *SigningKey) Sign(typ string, rev int64, payload []byte) ([]byte, error) {
	header := `{"alg":"` + k.alg + `","kid":"` + k.kid + `","typ":"` + typ + `","rev":` + strconv.FormatInt(rev, 10) + `}`
	enc := base64.RawURLEncoding
	input := make([]byte, 0, enc.EncodedLen(len(header))+1+enc.EncodedLen(len(payload))+90)
	input = enc.AppendEncode(input, []byte(header))
	input = append(input, '.')
	input = enc.AppendEncode(input, payload)
	var sig []byte
	if k.ed != nil {
		sig = ed25519.Sign(k.ed, input)
	} else {
		digest := sha256.Sum256(input)
		der, err := k.ec.Sign(nil, digest[:], crypto.SHA256) // nil random: RFC 6979, deterministic
		if err != nil {
			return nil, err
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			return nil, err
		}
		sig = make([]byte, 64) // RFC 7518 Section 3.4: R and S, 32 bytes each, big-endian
		rs.R.FillBytes(sig[:32])
		rs.S.FillBytes(sig[32:])
	}
	out := append(input, '.')
	return enc.AppendEncode(out, sig), nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public JWK: the required members in
// lexicographic order, no white space, base64url.
func thumbprint(jwk map[string]string) string {
	var members []string
	if jwk["kty"] == "EC" {
		members = []string{"crv", "kty", "x", "y"}
	} else {
		members = []string{"crv", "kty", "x"}
	}
	s := "{"
	for i, m := range members {
		if i > 0 {
			s += ","
		}
		s += strconv.Quote(m) + ":" + strconv.Quote(jwk[m])
	}
	s += "}"
	sum := sha256.Sum256([]byte(s))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
