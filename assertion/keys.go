package assertion

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Algorithms of the assertion, each bound to one kind of key (RFC 7518 §3.4, RFC 8037 §3.1).
const (
	AlgES256 = "ES256" // ECDSA with P-256 and SHA-256
	AlgEdDSA = "EdDSA" // Ed25519
)

// signingKey is a parsed private key with what New derives from it once.
type signingKey struct {
	alg   string
	ec    *ecdsa.PrivateKey  // ES256
	ed    ed25519.PrivateKey // EdDSA
	jwk   map[string]string  // public members only (RFC 7518 §6.2.1, RFC 8037 §2)
	thumb string             // RFC 7638 JWK thumbprint, base64url SHA-256
}

// Key is a signing key read by the signer's own rules, for the compiled tools that sign with the
// same keys (gatehouse serve signs policy bundles): one parser, one thumbprint, one public JWK.
type Key struct {
	Algorithm  string            // AlgES256 or AlgEdDSA
	Thumbprint string            // RFC 7638 JWK thumbprint, base64url SHA-256: the kid
	JWK        map[string]string // the public members (kty, crv, x and, for EC, y)
	Private    crypto.Signer     // *ecdsa.PrivateKey or ed25519.PrivateKey
}

// ParseKey reads a PEM private key as the assertion setting takes it: one EC P-256 or Ed25519
// key (PKCS#8 or SEC 1; EC PARAMETERS blocks skipped), with the same errors.
func ParseKey(data []byte) (*Key, error) {
	k, err := parseKey(data)
	if err != nil {
		return nil, err
	}
	out := &Key{Algorithm: k.alg, Thumbprint: k.thumb, JWK: k.jwk}
	if k.ed != nil {
		out.Private = k.ed
	} else {
		out.Private = k.ec
	}
	return out, nil
}

// readKey reads the key setting: inline PEM when it holds a PEM boundary, otherwise the path of a
// file. An unreadable path is echoed only when it looks like a file name, so that a mangled inline
// key never lands in a log.
func readKey(entry string) ([]byte, error) {
	if strings.Contains(entry, "-----BEGIN") {
		return []byte(entry), nil
	}
	path := strings.TrimSpace(entry)
	data, err := os.ReadFile(path)
	if err == nil {
		return data, nil
	}
	cause := err.Error()
	if pe, ok := err.(*fs.PathError); ok {
		cause = pe.Err.Error()
	}
	if looksLikePath(path) {
		return nil, fmt.Errorf("%w: %q: %s", ErrKeyUnreadable, path, cause)
	}
	return nil, fmt.Errorf("%w (%s; the value is not echoed)", ErrKeyUnreadable, cause)
}

// looksLikePath reports whether s ends in a file name with an extension, which base64 key
// material never does.
func looksLikePath(s string) bool {
	base := s[strings.LastIndexAny(s, "/\\")+1:]
	return len(s) <= 512 && strings.Contains(base, ".") && safeText(s)
}

// parseKey finds the one private key in data. EC PARAMETERS blocks (openssl ecparam -genkey) are
// skipped; every other block must be the private key.
func parseKey(data []byte) (*signingKey, error) {
	var key interface{}
	blocks := 0
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		data = rest
		blocks++
		if block.Type == "EC PARAMETERS" {
			continue
		}
		k, err := parseBlock(block)
		if err != nil {
			return nil, err
		}
		if key != nil {
			return nil, ErrKeyMultiple
		}
		key = k
	}
	if key == nil && blocks == 0 && strings.Contains(string(data), `\n`) {
		return nil, fmt.Errorf("%w (the PEM holds literal \\n sequences: use real line breaks)", ErrKeyNotPEM)
	}
	if key == nil && blocks == 0 {
		return nil, ErrKeyNotPEM
	}
	if key == nil {
		return nil, fmt.Errorf("%w: only EC PARAMETERS", ErrKeyNotPEM)
	}
	return classify(key)
}

// parseBlock parses one PEM block that must be an unencrypted private key.
func parseBlock(block *pem.Block) (interface{}, error) {
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, ErrKeyEncrypted
	}
	var key interface{}
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, ErrKeyEncrypted
	case "RSA PRIVATE KEY":
		return nil, fmt.Errorf("%w (got an RSA key)", ErrKeyUnsupported)
	case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE":
		return nil, fmt.Errorf("%w (got a %s block)", ErrKeyPublic, block.Type)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("%w (got an OpenSSH key: generate a PKCS#8 one, for example with openssl genpkey -algorithm ed25519)", ErrKeyUnsupported)
	default:
		return nil, fmt.Errorf("%w (got a %q PEM block)", ErrKeyUnsupported, block.Type)
	}
	if err != nil && strings.Contains(err.Error(), "unknown elliptic curve") {
		return nil, fmt.Errorf("%w (got an EC key on another curve: %s)", ErrKeyUnsupported, err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrKeyMalformed, err.Error())
	}
	return key, nil
}

// classify accepts an EC P-256 or an Ed25519 private key and derives its public JWK.
func classify(key interface{}) (*signingKey, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return nil, fmt.Errorf("%w (got an EC key on %s)", ErrKeyUnsupported, k.Curve.Params().Name)
		}
		return ecKey(k), nil
	case ed25519.PrivateKey:
		return edKey(k), nil
	case *rsa.PrivateKey:
		return nil, fmt.Errorf("%w (got an RSA key)", ErrKeyUnsupported)
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("%w (got a key-agreement key, %s, which cannot sign)", ErrKeyUnsupported, ecdhName(k))
	}
	return nil, fmt.Errorf("%w (got %T)", ErrKeyUnsupported, key)
}

func ecdhName(k *ecdh.PrivateKey) string {
	if k.Curve() == ecdh.X25519() {
		return "X25519"
	}
	return "ECDH"
}

var b64 = base64.RawURLEncoding

// ecKey builds the ES256 signing key. The coordinates are the curve's fixed 32 bytes
// (RFC 7518 §6.2.1.2); the thumbprint hashes the required members in lexicographic order
// (RFC 7638 §3.2).
func ecKey(k *ecdsa.PrivateKey) *signingKey {
	x := make([]byte, 32)
	y := make([]byte, 32)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	xs := b64.EncodeToString(x)
	ys := b64.EncodeToString(y)
	canonical := `{"crv":"P-256","kty":"EC","x":"` + xs + `","y":"` + ys + `"}`
	jwk := map[string]string{"kty": "EC", "crv": "P-256", "x": xs, "y": ys}
	return &signingKey{alg: AlgES256, ec: k, jwk: jwk, thumb: thumbprint(canonical)}
}

// edKey builds the EdDSA signing key (RFC 8037 §2: kty OKP, crv Ed25519, x the public key).
func edKey(k ed25519.PrivateKey) *signingKey {
	pub, _ := k.Public().(ed25519.PublicKey)
	xs := b64.EncodeToString(pub)
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + xs + `"}`
	jwk := map[string]string{"kty": "OKP", "crv": "Ed25519", "x": xs}
	return &signingKey{alg: AlgEdDSA, ed: k, jwk: jwk, thumb: thumbprint(canonical)}
}

func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// publicJWK returns the JWK to publish: the public members, kid, alg and use "sig" (RFC 7517 §4).
func publicJWK(k *signingKey, kid string) ([]byte, error) {
	m := map[string]string{"kid": kid, "alg": k.alg, "use": "sig"}
	for name, v := range k.jwk {
		m[name] = v
	}
	return json.Marshal(m)
}
