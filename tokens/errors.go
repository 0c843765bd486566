package tokens

import "errors"

// Sentinel errors returned by the verifier. They are returned unwrapped on the request path so that
// callers (compiled or interpreted) can compare them with ==; Yaegi does not see Unwrap methods.
var (
	// ErrNoToken means no source carried a token.
	ErrNoToken = errors.New("no token")
	// ErrMultipleTokens means more than one token was presented (two headers, or different tokens in two sources).
	ErrMultipleTokens = errors.New("more than one token presented")
	// ErrTooLarge means the token exceeds MaxTokenSize and was not parsed.
	ErrTooLarge = errors.New("token too large")
	// ErrMalformed means the token is not a well-formed compact JWS.
	ErrMalformed = errors.New("token malformed")
	// ErrAlgorithm means the header's alg is not allowed (never "none").
	ErrAlgorithm = errors.New("algorithm not allowed")
	// ErrCritical means the header carries crit, which Gatehouse does not support (RFC 7515 §4.1.11).
	ErrCritical = errors.New("crit header parameter not supported")
	// ErrType means the header's typ does not match requireTyp.
	ErrType = errors.New("typ header mismatch")
	// ErrUnknownKey means no trusted key matches the token's kid and algorithm.
	ErrUnknownKey = errors.New("no trusted key for token")
	// ErrSignature means the signature does not verify.
	ErrSignature = errors.New("signature invalid")
	// ErrExpired means exp is missing, malformed or in the past (beyond leeway).
	ErrExpired = errors.New("token expired")
	// ErrMissingExp means the token has no exp claim.
	ErrMissingExp = errors.New("token has no exp")
	// ErrNotYetValid means nbf or iat lies in the future (beyond leeway).
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrIssuer means iss is missing or not trusted.
	ErrIssuer = errors.New("issuer not trusted")
	// ErrAudience means aud does not contain an accepted audience.
	ErrAudience = errors.New("audience not accepted")
	// ErrClaimValue means a mapped claim has the wrong type, or a value that would not read back
	// exactly as Gatehouse decided it once forwarded (see ValidValue and ValidListElement: empty,
	// padded, control characters, a comma or double quote in a list element), or a token-carried
	// assignment that is malformed (an unknown member, a present but empty scope).
	ErrClaimValue = errors.New("claim value invalid")
	// ErrKeysUnavailable means the key source could not be reached and no usable key is cached.
	ErrKeysUnavailable = errors.New("key source unavailable")
)

// Category returns the short error_description category for err (RFC 6750 §3.1 invalid_token):
// "expired", "not yet valid", "signature", "issuer", "audience" or "malformed".
func Category(err error) string {
	switch err {
	case ErrExpired, ErrMissingExp:
		return "expired"
	case ErrNotYetValid:
		return "not yet valid"
	case ErrSignature, ErrUnknownKey, ErrAlgorithm:
		return "signature"
	case ErrIssuer:
		return "issuer"
	case ErrAudience:
		return "audience"
	}
	return "malformed"
}
