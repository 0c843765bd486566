package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"sync/atomic"
)

// Key families. A key only ever verifies algorithms of its own family: an RSA public key is never
// used as an HMAC secret (the classic RS256→HS256 confusion).
const (
	FamilyHMAC = "HMAC"
	FamilyRSA  = "RSA"
	FamilyEC   = "EC"
	FamilyOKP  = "OKP"
)

// MinSecretBytes is the minimum HMAC secret length of any configuration: the hash size of HS256.
// HS384 and HS512 need longer secrets (see MinHMACKeyBytes).
const MinSecretBytes = 32

// hmacKeyBytes is the minimum HMAC key of each algorithm: its hash output size (RFC 7518 §3.2).
var hmacKeyBytes = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}

// MinHMACKeyBytes returns the shortest HMAC key that may verify alg: 32, 48 and 64 bytes for
// HS256, HS384 and HS512 (RFC 7518 §3.2: a key of the same size as the hash output or larger MUST
// be used). It returns 0 for an algorithm that is not HMAC.
func MinHMACKeyBytes(alg string) int { return hmacKeyBytes[alg] }

// MinRSABits is the minimum RSA modulus size accepted from configuration or a JWKS.
const MinRSABits = 2048

// algFamily maps every supported JWS algorithm to the key family that may verify it.
var algFamily = map[string]string{
	"HS256": FamilyHMAC, "HS384": FamilyHMAC, "HS512": FamilyHMAC,
	"RS256": FamilyRSA, "RS384": FamilyRSA, "RS512": FamilyRSA,
	"PS256": FamilyRSA, "PS384": FamilyRSA, "PS512": FamilyRSA,
	"ES256": FamilyEC, "ES384": FamilyEC, "ES512": FamilyEC,
	"EdDSA": FamilyOKP,
}

// algCurve binds the ECDSA algorithms to their curve (RFC 7518 §3.4) and EdDSA to Ed25519.
var algCurve = map[string]string{"ES256": "P-256", "ES384": "P-384", "ES512": "P-521", "EdDSA": "Ed25519"}

// familyAlgs lists the default algorithms of each family, in a stable order.
var familyAlgs = map[string][]string{
	FamilyHMAC: {"HS256", "HS384", "HS512"},
	FamilyRSA:  {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
	FamilyEC:   {"ES256", "ES384", "ES512"},
	FamilyOKP:  {"EdDSA"},
}

// Key is one trusted verification key. Keys are immutable once built, except for the retired flag
// that a JWKS refresh sets when the key leaves its set.
type Key struct {
	ID     string      // kid; empty for static keys without one
	Alg    string      // when set (JWKS "alg"), the only algorithm this key verifies
	Family string      // FamilyHMAC, FamilyRSA, FamilyEC or FamilyOKP
	Curve  string      // P-256, P-384, P-521 or Ed25519
	Public interface{} // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey

	p256    *ecdsa.PublicKey // Public when it is an ECDSA key on P-256 (publicKey sets it): verifyES256's key
	retired int32
}

// Accepts reports whether k may verify a token signed with alg: same family, the key's own alg if
// it has one, the curve bound to alg, and for HMAC a secret at least MinHMACKeyBytes(alg) long.
func (k *Key) Accepts(alg string) bool {
	if k.Family != algFamily[alg] || (k.Alg != "" && k.Alg != alg) {
		return false
	}
	if k.Family == FamilyHMAC {
		secret, ok := k.Public.([]byte)
		return ok && len(secret) >= MinHMACKeyBytes(alg)
	}
	c := algCurve[alg]
	return c == "" || c == k.Curve
}

// Retired reports whether the key has left its key set; tokens it signed must be verified again.
func (k *Key) Retired() bool { return atomic.LoadInt32(&k.retired) != 0 }

func (k *Key) retire() { atomic.StoreInt32(&k.retired, 1) }

// KnownAlgorithm reports whether alg is a supported JWS algorithm ("none" never is).
func KnownAlgorithm(alg string) bool { return algFamily[alg] != "" }

// AlgorithmFamily returns the key family of alg, or "".
func AlgorithmFamily(alg string) string { return algFamily[alg] }

// familyOrder is the stable order of the families in default algorithm lists.
var familyOrder = []string{FamilyHMAC, FamilyRSA, FamilyEC, FamilyOKP}

// DefaultAlgorithms returns the algorithms of the given key families, in a stable order. It does
// not look at key sizes or curves: prefer DefaultAlgorithmsFor.
func DefaultAlgorithms(families []string) []string {
	var out []string
	for _, f := range familyOrder {
		if contains(families, f) {
			out = append(out, familyAlgs[f]...)
		}
	}
	return out
}

// DefaultAlgorithmsFor returns, in a stable order, the algorithms that at least one of keys
// accepts (so HS384 and HS512 only for a secret long enough, ES384 only for a P-384 key), plus
// every asymmetric algorithm when remote is true (a JWKS may hold keys of any asymmetric family;
// it never supplies HMAC secrets).
func DefaultAlgorithmsFor(keys []*Key, remote bool) []string {
	var out []string
	for _, f := range familyOrder {
		for _, alg := range familyAlgs[f] {
			if (remote && f != FamilyHMAC) || anyAccepts(keys, alg) {
				out = append(out, alg)
			}
		}
	}
	return out
}

func anyAccepts(keys []*Key, alg string) bool {
	for _, k := range keys {
		if k.Accepts(alg) {
			return true
		}
	}
	return false
}

// SecretKey builds an HMAC key from secret, which must be at least MinSecretBytes long.
func SecretKey(secret []byte) (*Key, error) {
	if len(secret) < MinSecretBytes {
		return nil, errors.New("HMAC secret must be at least 32 bytes")
	}
	return &Key{Family: FamilyHMAC, Public: secret}, nil
}

// ReadSecretFile reads an HMAC secret from path; one trailing newline is dropped.
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s := strings.TrimRight(string(b), "\r\n")
	return []byte(s), nil
}

// ParsePEMKeys parses one configuration entry: inline PEM (public keys, PKCS#1 RSA public keys or
// certificates) or the path of a file holding them. Private keys are refused.
func ParsePEMKeys(entry string) ([]*Key, error) {
	data := []byte(entry)
	if !strings.Contains(entry, "-----BEGIN") {
		b, err := os.ReadFile(strings.TrimSpace(entry))
		if err != nil {
			return nil, errors.New("not inline PEM and not a readable file: " + err.Error())
		}
		data = b
	}
	var keys []*Key
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		k, err := keyFromPEMBlock(block)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("not a PEM public key or certificate")
	}
	return keys, nil
}

func keyFromPEMBlock(block *pem.Block) (*Key, error) {
	var pub interface{}
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, errors.New("is a private key (" + block.Type + "): configure the public key only")
		}
		return nil, errors.New("unsupported PEM block " + block.Type)
	}
	if err != nil {
		return nil, errors.New("not a PEM public key: " + err.Error())
	}
	return publicKey(pub)
}

// publicKey wraps a parsed public key, checking its size, and for RSA that the modulus does not
// carry the ROCA fingerprint (CVE-2017-15361).
func publicKey(pub interface{}) (*Key, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return nil, errors.New("RSA key shorter than 2048 bits")
		}
		if hasROCAFingerprint(k.N) {
			return nil, errors.New("RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can be recovered; replace it")
		}
		return &Key{Family: FamilyRSA, Public: k}, nil
	case *ecdsa.PublicKey:
		name := curveName(k.Curve)
		if name == "" {
			return nil, errors.New("unsupported EC curve")
		}
		if name == "P-256" {
			return &Key{Family: FamilyEC, Curve: name, Public: k, p256: k}, nil
		}
		return &Key{Family: FamilyEC, Curve: name, Public: k}, nil
	case ed25519.PublicKey:
		return &Key{Family: FamilyOKP, Curve: "Ed25519", Public: k}, nil
	}
	return nil, errors.New("unsupported public key type")
}

func curveName(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "P-256"
	case elliptic.P384():
		return "P-384"
	case elliptic.P521():
		return "P-521"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
