package tokens

// The verifier, claim mapping, value rules, extraction and key-set matching as they were before they
// were rewritten for Yaegi's costs (commit ac2900e), kept verbatim but for the names (ref...) as the
// oracle of reference_fuzz_test.go and cold_test.go: the rewritten code must give the same answers,
// errors included, on every input.

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"encoding/json"
	"math"
	"math/big"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// refVerified is what refVerify establishes about a token.
type refVerified struct {
	claims    map[string]interface{}
	key       *Key
	exp       int64
	notBefore int64
}

func refVerify(v *Verifier, token string, now time.Time) (*refVerified, error) {
	if len(token) > MaxTokenSize {
		return nil, ErrTooLarge
	}
	if hasLineBreak(token) {
		return nil, ErrMalformed // base64 decoding would skip CR/LF: one token, one spelling
	}
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	if dot1 < 0 || dot1 == dot2 || strings.IndexByte(token[dot1+1:dot2], '.') >= 0 {
		return nil, ErrMalformed
	}
	var header map[string]interface{}
	if !refDecodeJSON(token[:dot1], &header) {
		return nil, ErrMalformed
	}
	alg, err := refCheckHeader(v, header)
	if err != nil {
		return nil, err
	}
	sig, err := b64url.DecodeString(token[dot2+1:])
	if err != nil {
		return nil, ErrMalformed
	}
	var claims map[string]interface{}
	if !refDecodeJSON(token[dot1+1:dot2], &claims) {
		return nil, ErrMalformed
	}
	keys, err := refCandidates(v, header, alg, claims, now)
	if err != nil {
		return nil, err
	}
	key := refVerifySignature(v, token[:dot2], sig, alg, keys)
	if key == nil {
		return nil, ErrSignature
	}
	exp, notBefore, err := refCheckClaims(v, claims, now.Unix())
	if err != nil {
		return nil, err
	}
	t := &refVerified{claims: claims, key: key, exp: exp, notBefore: notBefore}
	return t, nil
}

// decodeJSON decodes a strict base64url segment holding a JSON object (RFC 7515 §5.2 steps 2-3, 6).
func refDecodeJSON(segment string, into *map[string]interface{}) bool {
	raw, err := b64url.DecodeString(segment)
	if err != nil {
		return false
	}
	return json.Unmarshal(raw, into) == nil && *into != nil
}

// checkHeader enforces the JOSE header rules and returns alg. alg, kid and typ are strings when
// present (RFC 7515 §4.1.1, §4.1.4, §4.1.9): another JSON type is malformed, not ignored. Straight
// lookups, no helper calls: this runs on every uncached request.
func refCheckHeader(v *Verifier, h map[string]interface{}) (string, error) {
	alg, ok := h["alg"].(string)
	if !ok {
		if _, present := h["alg"]; present {
			return "", ErrMalformed
		}
	}
	if raw, present := h["kid"]; present {
		if _, ok := raw.(string); !ok {
			return "", ErrMalformed
		}
	}
	if raw, present := h["typ"]; present {
		if _, ok := raw.(string); !ok {
			return "", ErrMalformed
		}
	}
	if v.methods[alg] == nil {
		return "", ErrAlgorithm
	}
	if _, ok := h["crit"]; ok {
		return "", ErrCritical
	}
	if v.typ != "" {
		typ, _ := h["typ"].(string)
		if normalizeTyp(typ) != v.typ {
			return "", ErrType
		}
	}
	return alg, nil
}

// candidates returns the keys that may verify the token. jku, x5u, jwk and x5c are never used.
func refCandidates(v *Verifier, header map[string]interface{}, alg string, claims map[string]interface{}, now time.Time) ([]*Key, error) {
	if keys := v.static[alg]; len(keys) > 0 {
		return keys, nil
	}
	kid, _ := header["kid"].(string)
	sets := v.opts.Remote
	if v.opts.RemoteByIssuer != nil {
		iss, _ := claims["iss"].(string)
		set := v.opts.RemoteByIssuer[iss]
		if set == nil {
			return nil, ErrIssuer
		}
		sets = []*RemoteSet{set}
	}
	if len(sets) == 0 {
		return nil, ErrUnknownKey
	}
	keys, err := sets[0].Candidates(kid, alg, now)
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// verifySignature returns the first of keys under which sig verifies the signing input, or nil.
func refVerifySignature(v *Verifier, signed string, sig []byte, alg string, keys []*Key) *Key {
	a := v.methods[alg]
	input := []byte(signed)
	for _, k := range keys {
		if refVerifyJWS(a, k, input, sig) {
			return k
		}
	}
	return nil
}

// checkClaims validates the registered claims (RFC 7519 §4.1) after the signature and returns exp
// and the later of nbf and iat.
func refCheckClaims(v *Verifier, c map[string]interface{}, now int64) (int64, int64, error) {
	exp, ok := refNumericDate(c, "exp")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if exp == 0 {
		return 0, 0, ErrMissingExp
	}
	if now >= exp+v.leeway {
		return 0, 0, ErrExpired
	}
	nbf, ok := refNumericDate(c, "nbf")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if nbf != 0 && now < nbf-v.leeway {
		return 0, 0, ErrNotYetValid
	}
	iat, ok := refNumericDate(c, "iat")
	if !ok {
		return 0, 0, ErrMalformed
	}
	if iat != 0 && now < iat-v.leeway {
		return 0, 0, ErrNotYetValid
	}
	if len(v.issuers) > 0 {
		iss, _ := c["iss"].(string)
		if !v.issuers[iss] {
			return 0, 0, ErrIssuer
		}
	}
	if len(v.opts.Audiences) > 0 && !refAudienceOK(v, c["aud"]) {
		return 0, 0, ErrAudience
	}
	if iat > nbf {
		nbf = iat
	}
	return exp, nbf, nil
}

// numericDate reads a NumericDate claim as whole seconds (floor). Absent or 0 reads as 0.
// A non-number or an absurdly large value is malformed.
func refNumericDate(c map[string]interface{}, name string) (int64, bool) {
	raw, present := c[name]
	if !present {
		return 0, true
	}
	f, ok := raw.(float64)
	if !ok || math.Abs(f) > maxNumericDate {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

func refAudienceOK(v *Verifier, aud interface{}) bool {
	switch a := aud.(type) {
	case string:
		return a != "" && contains(v.opts.Audiences, a)
	case []interface{}:
		found := false
		for _, e := range a {
			s, ok := e.(string)
			if !ok {
				return false
			}
			if contains(v.opts.Audiences, s) {
				found = true
			}
		}
		return found
	}
	return false
}

// verifyJWS reports whether sig is a valid signature of the JWS signing input under k for a
// (RFC 7515 §5.2 step 8). It fails closed: a key of the wrong type, size or curve never verifies.
func refVerifyJWS(a *algorithm, k *Key, input, sig []byte) bool {
	switch a.kind {
	case kindHMAC:
		return refVerifyHMAC(a, k, input, sig)
	case kindEdDSA:
		pub, ok := k.Public.(ed25519.PublicKey)
		return ok && len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, input, sig)
	}
	h := a.newHash()
	h.Write(input)
	digest := h.Sum(nil)
	switch a.kind {
	case kindPKCS1:
		pub, ok := k.Public.(*rsa.PublicKey)
		return ok && rsa.VerifyPKCS1v15(pub, a.hash, digest, sig) == nil
	case kindPSS:
		pub, ok := k.Public.(*rsa.PublicKey)
		return ok && rsa.VerifyPSS(pub, a.hash, digest, sig, a.pss) == nil
	case kindECDSA, kindES256:
		return refVerifyECDSA(a, k, digest, sig)
	}
	return false
}

// verifyHMAC implements RFC 7518 §3.2: the key is at least the hash size, the MAC is compared in
// constant time and must be the full hash output.
func refVerifyHMAC(a *algorithm, k *Key, input, sig []byte) bool {
	secret, ok := k.Public.([]byte)
	if !ok || len(secret) < a.size {
		return false
	}
	mac := hmac.New(a.newHash, secret)
	mac.Write(input)
	return hmac.Equal(mac.Sum(nil), sig)
}

// verifyECDSA implements RFC 7518 §3.4: the signature is R||S, each exactly the curve's size, and
// the key is on the curve bound to the algorithm.
func refVerifyECDSA(a *algorithm, k *Key, digest, sig []byte) bool {
	pub, ok := k.Public.(*ecdsa.PublicKey)
	if !ok || pub.Curve != a.curve || len(sig) != 2*a.size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:a.size])
	s := new(big.Int).SetBytes(sig[a.size:])
	return ecdsa.Verify(pub, digest, r, s)
}

// identity maps verified claims to an Identity. n must come from withDefaults. exp and notBefore
// (the later of nbf and iat) were read by checkClaims.
func refIdentity(n ClaimNames, c map[string]interface{}, exp, notBefore int64) (*Identity, error) {
	id := &Identity{Expires: exp, NotBefore: notBefore}
	var ok bool
	if id.Subject, ok = refStringClaim(c, n.Subject); !ok {
		return nil, claimError(n.Subject)
	}
	if id.Issuer, ok = refStringClaim(c, "iss"); !ok {
		return nil, claimError("iss")
	}
	if id.Org, ok = refStringClaim(c, n.Org); !ok {
		return nil, claimError(n.Org)
	}
	if id.Roles, ok = refRoles(n, c); !ok {
		return nil, claimError(pick(n.Roles, "roles"))
	}
	if id.Permissions, ok = refPermissions(n, c); !ok {
		return nil, claimError(pick(n.Permissions, "permissions"))
	}
	if id.OrgRoles, ok = refOrgRoles(lookup(c, n.OrgRoles)); !ok {
		return nil, claimError(n.OrgRoles)
	}
	if id.Assignments, ok = refAssignments(lookup(c, n.Assignments)); !ok {
		return nil, claimError(n.Assignments)
	}
	return id, nil
}

func refRoles(n ClaimNames, c map[string]interface{}) ([]string, bool) {
	if n.Roles != "" {
		return refListClaim(lookup(c, n.Roles), ",")
	}
	if r, ok := c["roles"]; ok {
		return refListClaim(r, ",")
	}
	return refListClaim(c["role"], ",")
}

func refPermissions(n ClaimNames, c map[string]interface{}) ([]string, bool) {
	if n.Permissions != "" {
		return refListClaim(lookup(c, n.Permissions), " ")
	}
	if p, ok := c["permissions"]; ok {
		return refListClaim(p, ",")
	}
	if s, ok := c["scope"]; ok {
		return refListClaim(s, " ")
	}
	return refListClaim(c["scp"], " ")
}

// stringClaim reads a single-valued claim: absent (or null) reads as "", a string must satisfy
// ValidValue, anything else is refused.
func refStringClaim(c map[string]interface{}, path string) (string, bool) {
	switch v := lookup(c, path).(type) {
	case nil:
		return "", true
	case string:
		return v, refValidValue(v)
	}
	return "", false
}

// orgRoles reads the org-roles claim: an object mapping each org to its roles (a list claim split
// on ","). Org names follow the list-element rule, like every org Gatehouse compares.
func refOrgRoles(raw interface{}) (map[string][]string, bool) {
	if raw == nil {
		return nil, true
	}
	m, ok := raw.(map[string]interface{})
	if !ok {
		return nil, false
	}
	out := make(map[string][]string, len(m))
	for org, roles := range m {
		list, ok := refListClaim(roles, ",")
		if !ok || !refValidListElement(org) {
			return nil, false
		}
		out[org] = list
	}
	return out, true
}

// assignments reads the assignments claim: an array of assignment objects.
func refAssignments(raw interface{}) ([]Assignment, bool) {
	if raw == nil {
		return nil, true
	}
	list, ok := raw.([]interface{})
	if !ok {
		return nil, false
	}
	var out []Assignment
	for _, e := range list {
		a, ok := refAssignment(e)
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

// assignment reads one {role, org, scope} object. role and org are required strings; scope is
// optional. No other member is allowed: a member Gatehouse does not know might narrow the grant in
// the issuer's mind (an expiry, a condition), and ignoring it would widen it.
func refAssignment(raw interface{}) (Assignment, bool) {
	m, ok := raw.(map[string]interface{})
	if !ok {
		return Assignment{}, false
	}
	for name := range m {
		if name != "role" && name != "org" && name != "scope" {
			return Assignment{}, false
		}
	}
	role, ok1 := m["role"].(string)
	org, ok2 := m["org"].(string)
	if !ok1 || !ok2 || !refValidListElement(role) || !refValidListElement(org) {
		return Assignment{}, false
	}
	a := Assignment{Role: role, Org: org}
	scope, present := m["scope"]
	if !present {
		return a, true
	}
	a.Scope, ok = refScopeClaim(scope)
	if !ok {
		return Assignment{}, false
	}
	return a, true
}

// scopeClaim reads a present scope: one path string, or a non-empty array of path strings. Only an
// absent scope means the whole org, so a present one that says nothing ([], "", null, [""]) is
// refused rather than read as absent. Each path starts with "/" and follows the list-element rule;
// the policy reads the path itself (a path it cannot parse covers nothing).
func refScopeClaim(raw interface{}) ([]string, bool) {
	var list []string
	switch v := raw.(type) {
	case string:
		list = []string{v}
	case []interface{}:
		var ok bool
		if list, ok = stringArray(v); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	if len(list) == 0 {
		return nil, false
	}
	for _, s := range list {
		if !strings.HasPrefix(s, "/") || !refValidListElement(s) {
			return nil, false
		}
	}
	return SortedSet(list), true
}

// Bytes returns a conservative estimate of the heap an identity keeps alive: its strings and the
// backing arrays of its slices and map, rounded up for allocator size classes. The Identity struct
// itself and the key it points to are not included (a cache charges them as per-entry overhead).
func refBytes(id *Identity) int64 {
	n := stringCost(id.Subject) + stringCost(id.Issuer) + stringCost(id.Org)
	n += refListCost(id.Roles) + refListCost(id.Permissions)
	if id.OrgRoles != nil {
		n += mapOverhead + mapSlot*len(id.OrgRoles)
		for org, roles := range id.OrgRoles {
			n += stringCost(org) + refListCost(roles)
		}
	}
	n += arrayCost(cap(id.Assignments) * assignmentSize)
	for _, a := range id.Assignments {
		n += stringCost(a.Role) + stringCost(a.Org) + refListCost(a.Scope)
	}
	return int64(n)
}

// listCost is what a []string's backing array and its strings occupy.
func refListCost(list []string) int {
	n := arrayCost(cap(list) * stringHeader)
	for _, s := range list {
		n += stringCost(s)
	}
	return n
}

// ValidValue reports whether s may be forwarded as a single-valued identity header (X-Auth-Subject,
// X-Auth-Org, X-Auth-Issuer): after net/http writes it and the backend reads it, it reads back byte
// for byte, and no reader can take it for another value or for an absent header. This is the one
// rule; Gatehouse refuses a token whose value breaks it (ErrClaimValue) instead of trimming, since
// trimming would merge distinct users ("admin " and "admin"). s must be:
//
//   - non-empty: an empty field reads like an absent one (http.Header.Get returns "" for both);
//   - valid UTF-8: a backend that decodes the bytes would replace the invalid ones;
//   - free of C0 control characters and DEL: net/http writes CR and LF as spaces, and refuses a
//     request whose field carries any other control but HTAB (they are outside the field-value
//     grammar, RFC 9110 §5.5); HTAB survives net/http but is refused with the rest, since
//     backends and logs take it for a separator;
//   - unpadded: its first and its last rune are not white space, meaning any rune for which
//     unicode.IsSpace holds (SP, NEL U+0085, NBSP U+00A0, U+1680, U+2000 to U+200A, U+2028,
//     U+2029, U+202F, U+205F, U+3000) and U+FEFF. net/http and every RFC 9110 parser strip SP and
//     HTAB around a field value (RFC 9110 §5.5); Unicode white space survives net/http but not the
//     trim functions backends apply (Go's strings.TrimSpace, Python's str.strip, .NET's Trim, and
//     JavaScript's String.prototype.trim, which also strips U+FEFF).
//
// White space inside the value is kept ("Jane Doe"). Where the rule is stricter than net/http's own
// round trip (an empty value, invalid UTF-8, an inner HTAB, Unicode white space at either end), it
// is for the readers named.
func refValidValue(s string) bool {
	if s == "" || strings.ContainsAny(s, controls) || !utf8.ValidString(s) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !padding(first) && !padding(last)
}

// ValidListElement reports whether s may be forwarded as one element of a comma-separated identity
// header (X-Auth-Roles, X-Auth-Permissions): joined with "," and written by net/http, then split by
// an RFC 9110 §5.6.1 list parser (split on commas, OWS trimmed, empty elements dropped, quoted-strings
// unquoted as §5.6.4 describes), it reads back as the same element, byte for byte. s must satisfy
// ValidValue and must not contain a comma (it would split the element) or a double quote (a parser
// may start a quoted-string there, swallowing the commas that follow, or drop the quotes).
func refValidListElement(s string) bool {
	return refValidValue(s) && !strings.ContainsAny(s, `,"`)
}

// listClaim reads a list claim: an array of strings, or one string split on sep ("," for role
// lists, " " for an OAuth scope, RFC 6749 §3.3: scope-token *( SP scope-token )). Absent (or null)
// reads as no elements. Every element must satisfy ValidListElement: no white space is tolerated
// around a separator ("a, b" and "a  b" are refused, not trimmed) and no element may be empty
// ("", "a,,b", " a"). The result is sorted and deduplicated.
func refListClaim(raw interface{}, sep string) ([]string, bool) {
	var list []string
	switch v := raw.(type) {
	case nil:
		return nil, true
	case string:
		list = strings.Split(v, sep)
	case []interface{}:
		var ok bool
		if list, ok = stringArray(v); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	if len(list) == 0 {
		return nil, true
	}
	for _, s := range list {
		if !refValidListElement(s) {
			return nil, false
		}
	}
	return SortedSet(list), true
}

// Extract returns the one token the request carries. Two values in one source, or different
// tokens in two sources, are ErrMultipleTokens; no token anywhere is ErrNoToken; a token longer
// than MaxTokenSize is ErrTooLarge. The token is a substring of the request (a header, cookie or
// query value): Extract copies nothing, so an oversized one costs no more than a scan.
func refExtract(req *http.Request, sources []Source) (string, error) {
	token := ""
	for _, src := range sources {
		t, err := refFromSource(req, src)
		if err != nil {
			return "", err
		}
		if t == "" {
			continue
		}
		if len(t) > MaxTokenSize {
			return "", ErrTooLarge
		}
		if token != "" && t != token {
			return "", ErrMultipleTokens
		}
		token = t
	}
	if token == "" {
		return "", ErrNoToken
	}
	return token, nil
}

func refFromSource(req *http.Request, src Source) (string, error) {
	var values []string
	var err error
	switch src.Kind {
	case "header":
		values = req.Header[src.Name]
	case "cookie":
		values, err = cookieValues(req.Header["Cookie"], src.Name)
	case "query":
		values, err = queryValues(req.URL.RawQuery, src.Name)
	}
	if err != nil {
		return "", err
	}
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", ErrMultipleTokens
	}
	v := strings.TrimSpace(values[0])
	if src.Kind != "header" {
		return v, nil
	}
	return bearer(v, src.Name == "Authorization")
}

// refMatch is remoteState.match as it was: the keys with kid (every key when kid is empty) that
// accept alg, in the key set's order.
func refMatch(all []*Key, kid, alg string) []*Key {
	byKid := map[string][]*Key{}
	for _, k := range all {
		byKid[k.ID] = append(byKid[k.ID], k)
	}
	var out []*Key
	list := all
	if kid != "" {
		list = byKid[kid]
	}
	for _, k := range list {
		if k.Accepts(alg) {
			out = append(out, k)
		}
	}
	return out
}
