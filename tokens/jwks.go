package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math/big"
)

// jwk holds the members of a JSON Web Key (RFC 7517 §4) that Gatehouse reads.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	Crv    string   `json:"crv"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

type jwkSet struct {
	Keys []json.RawMessage `json:"keys"`
}

// ParseJWKS parses a JWK Set (RFC 7517 §5) into verification keys. Keys that are not for
// signatures, of an unsupported type, malformed or too small are skipped; symmetric ("oct") keys are
// never taken from a JWKS. previous maps fingerprints of the keys currently held to their *Key, so
// that an unchanged key keeps its identity (and the tokens it verified stay cached).
// It returns the keys and the fingerprint of each. The fingerprint covers every member of the JWK
// (see fingerprint): a key whose use, key_ops, alg or any other member changed is a new key, judged
// afresh, and the old one leaves the set. A well-formed set with no usable key is a valid answer (an
// empty, non-nil list: the issuer withdrew its signature keys, and tokens they signed stop verifying);
// a body that is not a JSON object with a "keys" array is an error (the last good keys are kept).
func ParseJWKS(body []byte, previous map[string]*Key) ([]*Key, []string, error) {
	var set jwkSet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, errors.New("JWKS is not valid JSON: " + err.Error())
	}
	if set.Keys == nil {
		return nil, nil, errors.New("JWKS has no \"keys\" array")
	}
	keys := []*Key{}
	var prints []string
	for _, raw := range set.Keys {
		var j jwk
		if json.Unmarshal(raw, &j) != nil {
			continue
		}
		fp, ok := fingerprint(raw)
		if !ok {
			continue
		}
		if k := previous[fp]; k != nil {
			keys = append(keys, k)
			prints = append(prints, fp)
			continue
		}
		k, err := keyFromJWK(&j)
		if err != nil {
			continue
		}
		keys = append(keys, k)
		prints = append(prints, fp)
	}
	return keys, prints, nil
}

// fingerprint identifies a JWK by all of its members: its JSON re-encoded with the members sorted
// (encoding/json sorts map keys), so that only a change of content, not of layout, makes a new key.
func fingerprint(raw json.RawMessage) (string, bool) {
	var members map[string]interface{}
	if json.Unmarshal(raw, &members) != nil {
		return "", false
	}
	canonical, err := json.Marshal(members)
	if err != nil {
		return "", false
	}
	return string(canonical), true
}

func keyFromJWK(j *jwk) (*Key, error) {
	if j.Use != "" && j.Use != "sig" {
		return nil, errors.New("not a signature key")
	}
	if len(j.KeyOps) > 0 && !contains(j.KeyOps, "verify") {
		return nil, errors.New("key_ops does not allow verify")
	}
	if j.Alg != "" && !KnownAlgorithm(j.Alg) {
		return nil, errors.New("unsupported alg")
	}
	var k *Key
	var err error
	switch j.Kty {
	case "RSA":
		k, err = rsaFromJWK(j)
	case "EC":
		k, err = ecFromJWK(j)
	case "OKP":
		k, err = okpFromJWK(j)
	default:
		return nil, errors.New("unsupported kty")
	}
	if err != nil {
		return nil, err
	}
	if j.Alg != "" && algFamily[j.Alg] != k.Family {
		return nil, errors.New("alg does not match key type")
	}
	k.ID = j.Kid
	k.Alg = j.Alg
	return k, nil
}

// b64 decodes a JWK member: strict base64url without padding or line breaks (RFC 7517 §4,
// RFC 7515 §2), exactly as token segments are decoded.
func b64(s string) ([]byte, error) {
	if hasLineBreak(s) {
		return nil, errors.New("line break in base64url")
	}
	return b64url.DecodeString(s)
}

func rsaFromJWK(j *jwk) (*Key, error) {
	n, err1 := b64(j.N)
	e, err2 := b64(j.E)
	if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("malformed RSA key")
	}
	exp := new(big.Int).SetBytes(e)
	if exp.Int64() < 3 || exp.Bit(0) == 0 {
		return nil, errors.New("bad RSA exponent")
	}
	return publicKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())})
}

func ecFromJWK(j *jwk) (*Key, error) {
	var curve elliptic.Curve
	switch j.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return nil, errors.New("unsupported curve")
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err1 := b64(j.X)
	y, err2 := b64(j.Y)
	if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
		return nil, errors.New("malformed EC key")
	}
	pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	if !curve.IsOnCurve(pub.X, pub.Y) {
		return nil, errors.New("EC point not on curve")
	}
	return publicKey(pub)
}

func okpFromJWK(j *jwk) (*Key, error) {
	if j.Crv != "Ed25519" {
		return nil, errors.New("unsupported OKP curve")
	}
	x, err := b64(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, errors.New("malformed Ed25519 key")
	}
	return publicKey(ed25519.PublicKey(x))
}
