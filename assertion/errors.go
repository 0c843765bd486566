package assertion

import "errors"

// Sentinel errors of New, each wrapped with the name of the setting at fault
// ("assertion.key: ...") so that compiled callers can test them with errors.Is and people can read
// where to look. Under Yaegi compare messages, not chains of interpreted errors.
var (
	// ErrRequired means a required setting is empty.
	ErrRequired = errors.New("required")
	// ErrValue means a setting holds a value that cannot be used as given (control characters,
	// surrounding white space, a name with a colon that is not a URI: RFC 7519 §2 StringOrURI).
	ErrValue = errors.New("invalid value")
	// ErrLifetime means the lifetime is outside MinLifetime..MaxLifetime or not whole seconds.
	ErrLifetime = errors.New("lifetime out of range")
	// ErrKeyUnreadable means the key is neither inline PEM nor the path of a readable file.
	ErrKeyUnreadable = errors.New("not inline PEM and not a readable file")
	// ErrKeyNotPEM means no PEM block was found.
	ErrKeyNotPEM = errors.New("no PEM block found")
	// ErrKeyEncrypted means the PEM is encrypted (PKCS#8 ENCRYPTED PRIVATE KEY or a legacy
	// Proc-Type: 4,ENCRYPTED block); Gatehouse has nowhere to keep a passphrase.
	ErrKeyEncrypted = errors.New("encrypted private keys are not supported: store the key unencrypted with restricted file permissions")
	// ErrKeyPublic means the PEM holds a public key or a certificate, not the private key.
	ErrKeyPublic = errors.New("a public key or certificate, not a private key")
	// ErrKeyUnsupported means the private key is not EC P-256 (ES256) or Ed25519 (EdDSA).
	ErrKeyUnsupported = errors.New("unsupported key: use an EC P-256 (ES256) or Ed25519 (EdDSA) private key")
	// ErrKeyMalformed means a private key block does not parse.
	ErrKeyMalformed = errors.New("malformed private key")
	// ErrKeyMultiple means the PEM holds more than one private key.
	ErrKeyMultiple = errors.New("more than one private key: give exactly one")
)
