package admin

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/assertion"
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

// ParseSigningKey parses a PEM private key (Ed25519, or EC P-256 as PKCS#8 or SEC 1) by the
// rules of the assertion signer's key setting (assertion.ParseKey): the same parser, thumbprint
// and public JWK, so a key reads the same wherever Gatehouse signs with it.
func ParseSigningKey(data []byte) (*SigningKey, error) {
	ak, err := assertion.ParseKey(data)
	if err != nil {
		return nil, err
	}
	k := &SigningKey{alg: ak.Algorithm, kid: ak.Thumbprint, jwk: ak.JWK}
	switch p := ak.Private.(type) {
	case ed25519.PrivateKey:
		k.ed = p
	case *ecdsa.PrivateKey:
		k.ec = p
	}
	if k.spki, err = x509.MarshalPKIXPublicKey(ak.Private.Public()); err != nil {
		return nil, err
	}
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
