//go:build wycheproof
// +build wycheproof

package tokens

// LOCAL ONLY, not to be committed: checks the signature layer against Wycheproof.

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var wpDir = os.Getenv("WYCHEPROOF_DIR")

type wpFile struct {
	Algorithm  string            `json:"algorithm"`
	TestGroups []json.RawMessage `json:"testGroups"`
}

type wpGroup struct {
	Type         string          `json:"type"`
	Comment      string          `json:"comment"`
	Sha          string          `json:"sha"`
	MgfSha       string          `json:"mgfSha"`
	SLen         int             `json:"sLen"`
	KeySize      int             `json:"keySize"`
	TagSize      int             `json:"tagSize"`
	PublicKeyPem string          `json:"publicKeyPem"`
	PublicKeyJwk json.RawMessage `json:"publicKeyJwk"`
	KeyJwk       json.RawMessage `json:"keyJwk"`
	PublicKey    struct {
		Curve string `json:"curve"`
		Pk    string `json:"pk"`
	} `json:"publicKey"`
	Private json.RawMessage `json:"private"`
	Public  json.RawMessage `json:"public"`
	Tests   []struct {
		TcID    int             `json:"tcId"`
		Comment string          `json:"comment"`
		Msg     string          `json:"msg"`
		Sig     string          `json:"sig"`
		Key     string          `json:"key"`
		Tag     string          `json:"tag"`
		Jws     json.RawMessage `json:"jws"`
		Result  string          `json:"result"`
		Flags   []string        `json:"flags"`
	} `json:"tests"`
}

type tally struct{ validAcc, validRef, invalidAcc, invalidRef, acceptableAcc, acceptableRef int }

func (t *tally) add(result string, accepted bool) {
	switch {
	case result == "valid" && accepted:
		t.validAcc++
	case result == "valid":
		t.validRef++
	case result == "invalid" && accepted:
		t.invalidAcc++
	case result == "invalid":
		t.invalidRef++
	case accepted:
		t.acceptableAcc++
	default:
		t.acceptableRef++
	}
}

func (t tally) String() string {
	return fmt.Sprintf("valid accepted %d refused %d | invalid accepted %d refused %d | acceptable accepted %d refused %d",
		t.validAcc, t.validRef, t.invalidAcc, t.invalidRef, t.acceptableAcc, t.acceptableRef)
}

func shaBits(s string) string { return strings.TrimPrefix(s, "SHA-") }

func readWP(t *testing.T, name string) []wpGroup {
	b, err := os.ReadFile(filepath.Join(wpDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var f wpFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var out []wpGroup
	for _, raw := range f.TestGroups {
		var g wpGroup
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

func TestWycheproofPrimitives(t *testing.T) {
	if wpDir == "" {
		t.Skip("WYCHEPROOF_DIR unset")
	}
	files, _ := filepath.Glob(filepath.Join(wpDir, "*.json"))
	sort.Strings(files)
	for _, path := range files {
		name := filepath.Base(path)
		if strings.HasPrefix(name, "json_web") {
			continue
		}
		var jose, other tally
		for _, g := range readWP(t, name) {
			var algs []string
			joseOK := true
			var key *Key
			switch g.Type {
			case "RsassaPssVerify":
				algs = []string{"PS" + shaBits(g.Sha)}
				joseOK = g.MgfSha == g.Sha && g.SLen == joseAlgorithms[algs[0]].hash.Size()
			case "RsassaPkcs1Verify":
				algs = []string{"RS" + shaBits(g.Sha)}
			case "EcdsaP1363Verify":
				algs = []string{"ES" + shaBits(g.Sha)}
			case "EddsaVerify":
				algs = []string{"EdDSA"}
			case "MacTest":
				algs = []string{"HS" + strings.TrimPrefix(name[len("hmac_sha"):], "")[:3]}
				joseOK = g.TagSize == 8*joseAlgorithms[algs[0]].size && g.KeySize >= g.TagSize
			default:
				t.Fatalf("%s: group type %s", name, g.Type)
			}
			if g.Type != "MacTest" {
				keys, err := ParsePEMKeys(g.PublicKeyPem)
				if err != nil {
					t.Logf("%s: %s key refused: %v", name, g.Comment, err)
					continue
				}
				key = keys[0]
				jwk := g.PublicKeyJwk
				if len(jwk) == 0 {
					jwk = g.KeyJwk
				}
				if len(jwk) > 0 {
					jk, _, err := ParseJWKS([]byte(`{"keys":[`+string(jwk)+`]}`), nil)
					if err != nil {
						t.Errorf("%s: JWK refused: %v (%s)", name, err, jwk)
					} else if jk[0].Alg != "" && jk[0].Alg != algs[0] {
						t.Logf("%s: JWK alg %s, group %s", name, jk[0].Alg, algs[0])
					}
				}
			}
			for _, tc := range g.Tests {
				msg, _ := hex.DecodeString(tc.Msg)
				sig, _ := hex.DecodeString(tc.Sig + tc.Tag)
				k := key
				if g.Type == "MacTest" {
					raw, _ := hex.DecodeString(tc.Key)
					k = &Key{Family: FamilyHMAC, Public: raw}
				}
				accepted := false
				for _, alg := range algs {
					v := NewVerifier(Options{Algorithms: []string{alg}, Static: []*Key{k}})
					if v.verifySignature(string(msg), sig, alg, v.static[alg]) != nil {
						accepted = true
					}
				}
				if joseOK {
					jose.add(tc.Result, accepted)
					if accepted != (tc.Result == "valid") {
						t.Logf("%s tc %d %s (%s %v): accepted=%v", name, tc.TcID, tc.Result, tc.Comment, tc.Flags, accepted)
					}
				} else {
					other.add(tc.Result, accepted)
					if accepted {
						t.Logf("%s tc %d %s (%s %v): accepted under JOSE rules", name, tc.TcID, tc.Result, tc.Comment, tc.Flags)
					}
				}
			}
		}
		t.Logf("%-44s JOSE parameters: %s", name, jose)
		if other != (tally{}) {
			t.Logf("%-44s non-JOSE parameters: %s", name, other)
		}
	}
}

// publicJWKs returns the public JWKs of a Wycheproof JOSE group, and oct keys separately.
func publicJWKs(t *testing.T, g wpGroup) ([]map[string]interface{}, [][]byte) {
	raw := g.Public
	if len(raw) == 0 {
		raw = g.Private
	}
	var one map[string]interface{}
	json.Unmarshal(raw, &one)
	list := []map[string]interface{}{one}
	if ks, ok := one["keys"].([]interface{}); ok {
		list = nil
		for _, k := range ks {
			list = append(list, k.(map[string]interface{}))
		}
	}
	var pub []map[string]interface{}
	var secrets [][]byte
	for _, k := range list {
		if k["kty"] == "oct" {
			s, _ := k["k"].(string)
			b, err := b64url.DecodeString(s)
			if err == nil {
				secrets = append(secrets, b)
			}
			continue
		}
		for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
			delete(k, m)
		}
		pub = append(pub, k)
	}
	return pub, secrets
}

// verifyCompactJWS mirrors verify() without the JWT claims step (Wycheproof payloads are not claim sets).
func verifyCompactJWS(v *Verifier, token string, jwks []*Key) error {
	if len(token) > MaxTokenSize {
		return ErrTooLarge
	}
	if hasLineBreak(token) {
		return ErrMalformed
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ErrMalformed
	}
	var header map[string]interface{}
	if !decodeJSON(parts[0], &header) {
		return ErrMalformed
	}
	alg, err := v.checkHeader(header)
	if err != nil {
		return err
	}
	if _, err := b64url.DecodeString(parts[1]); err != nil {
		return ErrMalformed
	}
	sig, err := b64url.DecodeString(parts[2])
	if err != nil {
		return ErrMalformed
	}
	keys := v.static[alg]
	if len(keys) == 0 {
		kid, _ := header["kid"].(string)
		for _, k := range jwks {
			if (kid == "" || k.ID == kid) && k.Accepts(alg) {
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return ErrUnknownKey
	}
	if v.verifySignature(parts[0]+"."+parts[1], sig, alg, keys) == nil {
		return ErrSignature
	}
	return nil
}

func TestWycheproofJOSE(t *testing.T) {
	if wpDir == "" {
		t.Skip("WYCHEPROOF_DIR unset")
	}
	all := []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	for _, name := range []string{"json_web_signature_test.json", "json_web_key_test.json", "json_web_crypto_test.json"} {
		var sum tally
		for _, g := range readWP(t, name) {
			if strings.HasPrefix(g.Comment, "jwe") {
				continue
			}
			pub, secrets := publicJWKs(t, g)
			var static []*Key
			for _, s := range secrets {
				if k, err := SecretKey(s); err == nil {
					static = append(static, k)
				} else {
					t.Logf("%s %s: secret refused: %v", name, g.Comment, err)
				}
			}
			var jwks []*Key
			if len(pub) > 0 {
				body, _ := json.Marshal(map[string]interface{}{"keys": pub})
				ks, _, err := ParseJWKS(body, nil)
				if err != nil {
					t.Logf("%s %s: JWKS refused: %v", name, g.Comment, err)
				}
				jwks = ks
			}
			v := NewVerifier(Options{Algorithms: all, Static: static})
			for _, tc := range g.Tests {
				var compact string
				err := ErrMalformed // JSON serialization: not a compact JWS
				if json.Unmarshal(tc.Jws, &compact) == nil {
					err = verifyCompactJWS(v, compact, jwks)
				}
				sum.add(tc.Result, err == nil)
				if (err == nil) != (tc.Result == "valid") {
					t.Logf("%s %s tc %d %s (%s %v): %v", name, g.Comment, tc.TcID, tc.Result, tc.Comment, tc.Flags, err)
				}
			}
		}
		t.Logf("%-30s %s", name, sum)
	}
}
