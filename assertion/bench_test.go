package assertion

import (
	"encoding/json"
	"testing"
)

// The cost of minting, compiled and under Yaegi (yaegi test -bench). BenchmarkClaimsJSON compares
// the flat struct Mint marshals with the map it could marshal instead.

func BenchmarkMint(b *testing.B) {
	for _, tc := range []struct{ name, key string }{
		{"ES256", testdata("ec-p256-pkcs8.pem")},
		{"EdDSA", testdata("ed25519-pkcs8.pem")},
	} {
		sg := mustSigner(b, settings(b, tc.key), t0)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if tok, _ := sg.Mint(decided, t0); tok == "" {
					b.Fatal("no token")
				}
			}
		})
	}
}

func BenchmarkClaimsJSON(b *testing.B) {
	c := decided
	b.Run("struct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			json.Marshal(&payload{Issuer: "https://gw.test", Audience: "api", Subject: c.Subject, Vouched: c.Vouched,
				Org: c.Org, Roles: c.Roles, Permission: c.Permission, Route: c.Route, Method: c.Method, Path: c.Path,
				IssuedAt: 1767225600, Expires: 1767225660, ID: "0123456789abcdefghijkl"})
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m := map[string]interface{}{"iss": "https://gw.test", "aud": "api", "permission": c.Permission, "route": c.Route,
				"method": c.Method, "path": c.Path, "iat": 1767225600, "exp": 1767225660, "jti": "0123456789abcdefghijkl"}
			if c.Subject != "" {
				m["sub"] = c.Subject
			}
			if c.Vouched != "" {
				m["idp"] = c.Vouched
			}
			if c.Org != "" {
				m["org"] = c.Org
			}
			if len(c.Roles) > 0 {
				m["roles"] = c.Roles
			}
			json.Marshal(m)
		}
	})
}

func BenchmarkJWKS(b *testing.B) {
	issuer := uniqueIssuer(b)
	var sg *Signer
	for i := 0; i < 3; i++ {
		sg = mustSigner(b, Settings{Key: newECPEM(b), Issuer: issuer, Audience: "api"}, t0)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sg.JWKS(t0)
	}
}
