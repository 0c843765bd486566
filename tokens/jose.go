package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"math/big"
	"strings"
)

// Signature verification of compact JWS (RFC 7515 §5.2 step 8) for the algorithms of RFC 7518 §3
// and RFC 8037 §3.1, written directly against the standard library so that every rule is ours:
// HMAC keys at least as long as the hash, PSS salt exactly the hash size, ECDSA signatures as the
// fixed-length R||S of the curve bound to the algorithm.

// Verification kinds.
const (
	kindHMAC = iota + 1
	kindPKCS1
	kindPSS
	kindECDSA // ES384, ES512
	kindEdDSA
	kindES256 // ECDSA on P-256 with SHA-256: verifyES256
)

// algorithm is how one JWS "alg" verifies. The table below is built once; NewVerifier keeps the
// entries of the allowed algorithms, so a request selects its algorithm with one map lookup.
type algorithm struct {
	name    string
	kind    int
	hash    crypto.Hash
	newHash func() hash.Hash
	size    int             // HMAC: hash output bytes, the minimum key (RFC 7518 §3.2); ECDSA: bytes of R and of S (§3.4)
	curve   elliptic.Curve  // ECDSA only
	pss     *rsa.PSSOptions // PSS only: salt length equal to the hash output (RFC 7518 §3.5)
}

// joseAlgorithms holds every supported algorithm; "none" is never among them (RFC 7518 §3.6).
var joseAlgorithms = map[string]*algorithm{
	"HS256": {name: "HS256", kind: kindHMAC, hash: crypto.SHA256, newHash: sha256.New, size: 32},
	"HS384": {name: "HS384", kind: kindHMAC, hash: crypto.SHA384, newHash: sha512.New384, size: 48},
	"HS512": {name: "HS512", kind: kindHMAC, hash: crypto.SHA512, newHash: sha512.New, size: 64},
	"RS256": {name: "RS256", kind: kindPKCS1, hash: crypto.SHA256, newHash: sha256.New},
	"RS384": {name: "RS384", kind: kindPKCS1, hash: crypto.SHA384, newHash: sha512.New384},
	"RS512": {name: "RS512", kind: kindPKCS1, hash: crypto.SHA512, newHash: sha512.New},
	"PS256": {name: "PS256", kind: kindPSS, hash: crypto.SHA256, newHash: sha256.New, pss: &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}},
	"PS384": {name: "PS384", kind: kindPSS, hash: crypto.SHA384, newHash: sha512.New384, pss: &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}},
	"PS512": {name: "PS512", kind: kindPSS, hash: crypto.SHA512, newHash: sha512.New, pss: &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA512}},
	"ES256": algES256,
	"ES384": {name: "ES384", kind: kindECDSA, hash: crypto.SHA384, newHash: sha512.New384, size: 48, curve: elliptic.P384()},
	"ES512": {name: "ES512", kind: kindECDSA, hash: crypto.SHA512, newHash: sha512.New, size: 66, curve: elliptic.P521()},
	"EdDSA": {name: "EdDSA", kind: kindEdDSA},
}

// algES256 is ES256, the algorithm most tokens are signed with: its own kind, so that verifyJWS
// sends it straight to verifyES256.
var algES256 = &algorithm{name: "ES256", kind: kindES256, hash: crypto.SHA256, newHash: sha256.New, size: 32, curve: elliptic.P256()}

// b64url decodes base64url without padding, strictly (RFC 7515 §2, RFC 4648 §3.5): non-zero unused
// trailing bits are an error, so every octet sequence has exactly one encoding. The decoder still
// skips CR and LF, so callers refuse those first (see hasLineBreak).
var b64url = base64.RawURLEncoding.Strict()

// hasLineBreak reports whether s holds CR or LF, which base64 decoding would silently skip.
func hasLineBreak(s string) bool { return strings.ContainsAny(s, "\r\n") }

// verifyJWS reports whether sig is a valid signature of the JWS signing input under k for a
// (RFC 7515 §5.2 step 8). It fails closed: a key of the wrong type, size or curve never verifies.
//
// Each kind has its own small function: under Yaegi a call allocates a slot for every variable and
// intermediate value of the function called, used or not, so one function holding every kind would
// make an HMAC check pay for the RSA and ECDSA code too (see docs/yaegi.md).
func verifyJWS(a *algorithm, k *Key, input, sig []byte) bool {
	switch a.kind {
	case kindES256:
		return verifyES256(k, input, sig)
	case kindHMAC:
		return verifyHMAC(a, k, input, sig)
	case kindECDSA:
		return verifyECDSA(a, k, input, sig)
	case kindEdDSA:
		return verifyEdDSA(k, input, sig)
	}
	return verifyRSA(a, k, input, sig)
}

// verifyHMAC implements RFC 7518 §3.2: the key is at least the hash size, the MAC is compared in
// constant time and must be the full hash output.
func verifyHMAC(a *algorithm, k *Key, input, sig []byte) bool {
	secret, ok := k.Public.([]byte)
	if !ok {
		return false
	}
	if len(secret) < a.size {
		return false
	}
	mac := hmacNew(a.newHash, secret)
	mac.Write(input)
	return hmacEqual(mac.Sum(nil), sig)
}

// verifyES256 implements RFC 7518 §3.4 for ES256: the signature is R||S of 32 bytes each, the key
// is a P-256 key, the digest SHA-256. The key's *ecdsa.PublicKey was typed and its curve checked
// once, when the Key was built (Key.p256, set by publicKey only for a P-256 key), so under Yaegi
// this check spends no slots on a type assertion and no curve or hash test. A Key built otherwise
// (a struct literal, without p256) is checked by verifyECDSA as before.
func verifyES256(k *Key, input, sig []byte) bool {
	if k.p256 == nil {
		return verifyECDSA(algES256, k, input, sig)
	}
	if len(sig) != 64 {
		return false
	}
	sum := sum256(input)
	return ecdsaVerify(k.p256, sum[:], new(bigInt).SetBytes(sig[:32]), new(bigInt).SetBytes(sig[32:]))
}

// verifyECDSA implements RFC 7518 §3.4: the signature is R||S, each exactly the curve's size, and
// the key is on the curve bound to the algorithm. ES384 and ES512, whose digests differ, are
// verified in verifyECDSALarge; ES256 normally in verifyES256, here only for a Key without p256.
func verifyECDSA(a *algorithm, k *Key, input, sig []byte) bool {
	pub, ok := k.Public.(*ecdsa.PublicKey)
	if !ok {
		return false
	}
	if pub.Curve != a.curve {
		return false
	}
	if len(sig) != 2*a.size {
		return false
	}
	if a.hash != crypto.SHA256 {
		return verifyECDSALarge(a, pub, input, sig)
	}
	sum := sha256.Sum256(input)
	return ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// verifyECDSALarge is verifyECDSA for ES384 and ES512 (SHA-384 and SHA-512), once the key and the
// signature length have been checked.
func verifyECDSALarge(a *algorithm, pub *ecdsa.PublicKey, input, sig []byte) bool {
	r := new(big.Int).SetBytes(sig[:a.size])
	s := new(big.Int).SetBytes(sig[a.size:])
	if a.hash == crypto.SHA384 {
		sum := sha512.Sum384(input)
		return ecdsa.Verify(pub, sum[:], r, s)
	}
	if a.hash == crypto.SHA512 {
		sum := sha512.Sum512(input)
		return ecdsa.Verify(pub, sum[:], r, s)
	}
	return false
}

// verifyEdDSA implements RFC 8037 §3.1 for Ed25519 keys.
func verifyEdDSA(k *Key, input, sig []byte) bool {
	pub, ok := k.Public.(ed25519.PublicKey)
	if !ok {
		return false
	}
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	return ed25519.Verify(pub, input, sig)
}

// verifyRSA implements RFC 7518 §3.3 (RSASSA-PKCS1-v1_5) and §3.5 (RSASSA-PSS, salt exactly the
// hash size).
func verifyRSA(a *algorithm, k *Key, input, sig []byte) bool {
	pub, ok := k.Public.(*rsa.PublicKey)
	if !ok {
		return false
	}
	h := a.newHash()
	h.Write(input)
	digest := h.Sum(nil)
	switch a.kind {
	case kindPKCS1:
		return rsa.VerifyPKCS1v15(pub, a.hash, digest, sig) == nil
	case kindPSS:
		return rsa.VerifyPSS(pub, a.hash, digest, sig, a.pss) == nil
	}
	return false
}
