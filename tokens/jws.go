package tokens

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
)

// Verification of a signed document that is not a token: the control plane's bundles and
// per-subject assignments (docs/control-plane.md), compact JWS (RFC 7515 §7.1) signed with EdDSA
// (Ed25519) or ES256 (P-256), with a typ the caller names and a kid that is the RFC 7638 thumbprint
// of the signing key (or the kid of a JWKS entry).

// JWSAlgorithms are the algorithms VerifyJWS accepts.
var JWSAlgorithms = []string{"EdDSA", "ES256"}

// MaxJWSHeader bounds the protected header VerifyJWS decodes.
const MaxJWSHeader = 4096

// VerifyJWS verifies a compact JWS against keys and returns its protected header and payload. It
// refuses: anything but three base64url parts; a header that is not a JSON object, is larger than
// MaxJWSHeader, carries crit or b64, or whose typ is not typ; an alg other than EdDSA and ES256; a
// kid no key has (a key's kid is its JWKS kid, or else its RFC 7638 thumbprint); and a signature
// that no key of the alg's type verifies. Without kid every key accepting the alg is tried.
func VerifyJWS(compact string, keys []*Key, typ string) (map[string]interface{}, []byte, error) {
	if hasLineBreak(compact) || strings.Count(compact, ".") != 2 {
		return nil, nil, errors.New("not a compact JWS (three base64url parts)")
	}
	dot1 := strings.IndexByte(compact, '.')
	dot2 := dot1 + 1 + strings.IndexByte(compact[dot1+1:], '.')
	if dot1 > 4*MaxJWSHeader/3+4 {
		return nil, nil, errors.New("JWS header too large")
	}
	rawHeader, err := b64url.DecodeString(compact[:dot1])
	if err != nil {
		return nil, nil, errors.New("JWS header is not base64url")
	}
	payload, err := b64url.DecodeString(compact[dot1+1 : dot2])
	if err != nil {
		return nil, nil, errors.New("JWS payload is not base64url")
	}
	sig, err := b64url.DecodeString(compact[dot2+1:])
	if err != nil {
		return nil, nil, errors.New("JWS signature is not base64url")
	}
	var header map[string]interface{}
	dec := json.NewDecoder(bytes.NewReader(rawHeader))
	dec.UseNumber()
	if dec.Decode(&header) != nil || header == nil || dec.More() {
		return nil, nil, errors.New("JWS header is not a JSON object")
	}
	alg, _ := header["alg"].(string)
	gotTyp, _ := header["typ"].(string)
	kid, kidIsString := header["kid"].(string)
	switch {
	case header["crit"] != nil || header["b64"] != nil:
		return nil, nil, errors.New("JWS header carries crit or b64, which are not supported")
	case gotTyp != typ:
		return nil, nil, errors.New("JWS typ is " + strconv.Quote(gotTyp) + ", want " + strconv.Quote(typ))
	case alg != "EdDSA" && alg != "ES256":
		return nil, nil, errors.New("JWS alg " + strconv.Quote(alg) + " is not allowed (EdDSA or ES256)")
	case header["kid"] != nil && !kidIsString:
		return nil, nil, errors.New("JWS kid is not a string")
	}
	a := joseAlgorithms[alg]
	input := []byte(compact[:dot2])
	known := false
	for _, k := range keys {
		if !k.Accepts(alg) {
			continue
		}
		if kid != "" && k.ID != kid && Thumbprint(k) != kid {
			continue
		}
		known = true
		if verifyJWS(a, k, input, sig) {
			return header, payload, nil
		}
	}
	if !known && kid != "" {
		return nil, nil, errors.New("JWS kid " + strconv.Quote(kid) + " names none of the configured keys")
	}
	if !known {
		return nil, nil, errors.New("no configured key verifies " + alg)
	}
	return nil, nil, errors.New("JWS signature does not verify")
}

// Thumbprint returns the RFC 7638 JWK thumbprint (base64url SHA-256 of the required members in
// lexicographic order) of an EC or Ed25519 public key, or "" for other keys.
func Thumbprint(k *Key) string {
	var canonical string
	switch pub := k.Public.(type) {
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		x := make([]byte, size)
		y := make([]byte, size)
		pub.X.FillBytes(x)
		pub.Y.FillBytes(y)
		canonical = `{"crv":"` + k.Curve + `","kty":"EC","x":"` + b64url.EncodeToString(x) + `","y":"` + b64url.EncodeToString(y) + `"}`
	case ed25519.PublicKey:
		canonical = `{"crv":"Ed25519","kty":"OKP","x":"` + b64url.EncodeToString(pub) + `"}`
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(canonical))
	return b64url.EncodeToString(sum[:])
}

// ParseVerificationKeys reads keys for VerifyJWS: inline PEM public keys, a JWK, a JWK Set, or the
// path of a file holding one of those. Every key must be Ed25519 or P-256; at least one is required.
func ParseVerificationKeys(text string) ([]*Key, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("empty")
	}
	if !strings.HasPrefix(text, "{") && !strings.Contains(text, "-----BEGIN") {
		b, err := readFileLimited(text)
		if err != nil {
			return nil, errors.New("not a PEM key, a JWK or a JWKS, and not a readable file: " + err.Error())
		}
		text = strings.TrimSpace(string(b))
	}
	var keys []*Key
	if strings.HasPrefix(text, "{") {
		body := []byte(text)
		var probe map[string]interface{}
		if err := json.Unmarshal(body, &probe); err != nil {
			return nil, errors.New("not valid JSON: " + err.Error())
		}
		if probe["keys"] == nil {
			body = []byte(`{"keys":[` + text + `]}`)
		}
		list, _, err := ParseJWKS(body, nil)
		if err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errors.New("holds no usable Ed25519 or P-256 signature key")
		}
		keys = list
	} else {
		list, err := ParsePEMKeys(text)
		if err != nil {
			return nil, err
		}
		keys = list
	}
	for _, k := range keys {
		if !k.Accepts("EdDSA") && !k.Accepts("ES256") {
			return nil, errors.New("a " + k.Family + " " + k.Curve + " key: signed documents use Ed25519 (EdDSA) or P-256 (ES256) keys")
		}
	}
	return keys, nil
}

// readFileLimited reads a key file of at most 1 MiB.
func readFileLimited(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > 1<<20 {
		return nil, errors.New("larger than 1 MiB")
	}
	return os.ReadFile(path)
}
