package tokens

import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"strings"
)

// The standard-library calls of the functions every cold request runs, bound once to package
// variables. Under Yaegi a package-qualified function (strings.Trim) or a method value of a
// compiled type (b64url.DecodeString) is one frame slot of the function that names it, allocated
// on each of its calls whether or not that call runs; a call through a package variable costs no
// slot (docs/yaegi.md). The rest of the package calls the standard library by its own names.
var (
	decodeSegment = b64url.DecodeString // strict base64url (b64url)
	containsAny   = strings.ContainsAny
	splitN        = strings.SplitN
	unmarshalJSON = json.Unmarshal
	trim          = strings.Trim
	trimSpace     = strings.TrimSpace
	split         = strings.Split
	cloneString   = strings.Clone
	sum256        = sha256.Sum256
	ecdsaVerify   = ecdsa.Verify
	hmacNew       = hmac.New
	hmacEqual     = hmac.Equal
)

// bigInt is big.Int, named without its package for the same reason.
type bigInt = big.Int
