package assertion

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

// kids returns the kids a JWK Set publishes, in order.
func kids(t *testing.T, set []byte) []string {
	var out []string
	for kid := range publicKeys(t, set) {
		out = append(out, kid)
	}
	return out
}

func publishes(t *testing.T, set []byte, kid string) bool {
	_, ok := publicKeys(t, set)[kid]
	return ok
}

func TestRotationKeepsThePreviousKeyForOneLifetime(t *testing.T) {
	issuer := uniqueIssuer(t)
	old := mustSigner(t, Settings{Key: newECPEM(t), Issuer: issuer, Audience: "api"}, t0)
	minted, _ := old.Mint(decided, at(0))
	fresh := mustSigner(t, Settings{Key: newEdPEM(t), Issuer: issuer, Audience: "api"}, at(30)) // the reload
	for _, tc := range []struct {
		name   string
		now    int
		signer *Signer
		both   bool
	}{
		{"right after the reload the new JWKS publishes both keys", 30, fresh, true},
		{"one second before a lifetime has passed it still publishes both", 89, fresh, true},
		{"once a lifetime has passed it publishes only the new key", 90, fresh, false},
		{"an old instance still serving publishes the new key beside its own", 31, old, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.signer.JWKS(at(tc.now))
			if !publishes(t, set, fresh.KeyID()) {
				t.Errorf("new key missing: %s", set)
			}
			if publishes(t, set, old.KeyID()) != tc.both {
				t.Errorf("old key published = %v, want %v: %s", !tc.both, tc.both, set)
			}
		})
	}
	t.Run("the assertion minted before the reload verifies against the new JWKS", func(t *testing.T) {
		if _, err := verify(t, minted, fresh.JWKS(at(45)), issuer, "api", at(45)); err != nil {
			t.Error(err)
		}
	})
	t.Run("the new JWKS lists the new key first", func(t *testing.T) {
		if k := firstKid(t, fresh.JWKS(at(30))); k != fresh.KeyID() {
			t.Errorf("first kid %q", k)
		}
	})
}

func firstKid(t *testing.T, set []byte) string {
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(set, &doc); err != nil || len(doc.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", set, err)
	}
	return doc.Keys[0].Kid
}

func TestAKeyStaysPublishedWhileItsAssertionsAreValid(t *testing.T) {
	issuer := uniqueIssuer(t)
	old := mustSigner(t, Settings{Key: newECPEM(t), Issuer: issuer, Audience: "api"}, t0)
	fresh := mustSigner(t, Settings{Key: newECPEM(t), Issuer: issuer, Audience: "api"}, at(10))
	late, exp := old.Mint(decided, at(100)) // an instance of the old generation serving a last request
	if exp != t0.Unix()+160 {
		t.Fatalf("exp %d", exp)
	}
	for _, tc := range []struct {
		name string
		now  int
		want bool
	}{
		{"a key that signed after being replaced is published again at once", 100, true},
		{"it is published one second before that assertion expires", 159, true},
		{"it is gone once that assertion has expired", 160, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := publishes(t, fresh.JWKS(at(tc.now)), old.KeyID()); got != tc.want {
				t.Errorf("published = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("the late assertion verifies against the new generation's JWKS", func(t *testing.T) {
		if _, err := verify(t, late, fresh.JWKS(at(120)), issuer, "api", at(120)); err != nil {
			t.Error(err)
		}
	})
}

func TestRegistryOrdering(t *testing.T) {
	a := newECPEM(t)
	b := newEdPEM(t)
	t.Run("reloading with the same key neither duplicates it nor restarts the old key's clock", func(t *testing.T) {
		issuer := uniqueIssuer(t)
		first := mustSigner(t, Settings{Key: a, Issuer: issuer, Audience: "api"}, t0)
		mustSigner(t, Settings{Key: b, Issuer: issuer, Audience: "api"}, at(10))
		again := mustSigner(t, Settings{Key: b, Issuer: issuer, Audience: "api"}, at(20))
		if n := len(kids(t, again.JWKS(at(20)))); n != 2 {
			t.Errorf("%d keys, want 2", n)
		}
		if publishes(t, again.JWKS(at(70)), first.KeyID()) {
			t.Error("the key replaced at 10s is still published at 70s")
		}
	})
	t.Run("rolling back to an earlier key makes it current for good", func(t *testing.T) {
		issuer := uniqueIssuer(t)
		mustSigner(t, Settings{Key: a, Issuer: issuer, Audience: "api"}, t0)
		other := mustSigner(t, Settings{Key: b, Issuer: issuer, Audience: "api"}, at(10))
		back := mustSigner(t, Settings{Key: a, Issuer: issuer, Audience: "api"}, at(20))
		if got := kids(t, other.JWKS(at(100000))); len(got) != 2 {
			t.Errorf("the replaced instance publishes %v, want its own and the current key", got)
		}
		if got := kids(t, back.JWKS(at(100000))); len(got) != 1 || got[0] != back.KeyID() {
			t.Errorf("publishes %v, want only the current key", got)
		}
	})
	t.Run("a new key under a configured kid takes the kid over at once", func(t *testing.T) {
		issuer := uniqueIssuer(t)
		first := mustSigner(t, Settings{Key: a, KeyID: "gw", Issuer: issuer, Audience: "api"}, t0)
		second := mustSigner(t, Settings{Key: b, KeyID: "gw", Issuer: issuer, Audience: "api"}, at(10))
		if got := kids(t, second.JWKS(at(10))); len(got) != 1 {
			t.Errorf("new instance publishes %v", got)
		}
		if got := kids(t, first.JWKS(at(10))); len(got) != 1 {
			t.Errorf("old instance publishes %v", got)
		}
		tok, _ := second.Mint(decided, at(10))
		if _, err := verify(t, tok, second.JWKS(at(10)), issuer, "api", at(10)); err != nil {
			t.Error(err)
		}
	})
	t.Run("an issuer remembers at most 16 keys", func(t *testing.T) {
		issuer := uniqueIssuer(t)
		var last *Signer
		for i := 0; i < 20; i++ {
			last = mustSigner(t, Settings{Key: newEdPEM(t), Issuer: issuer, Audience: "api", Lifetime: time.Hour}, at(i))
		}
		if n := len(kids(t, last.JWKS(at(20)))); n != maxKeysPerIssuer {
			t.Errorf("%d keys published, want %d", n, maxKeysPerIssuer)
		}
	})
	t.Run("the registry remembers at most 64 issuers, dropping the least recently registered", func(t *testing.T) {
		base := 1000000
		var names []string
		for i := 0; i < maxIssuers+6; i++ {
			name := "https://evict-" + strconv.Itoa(i) + ".test"
			names = append(names, name)
			mustSigner(t, Settings{Key: b, Issuer: name, Audience: "api"}, at(base+i))
		}
		registryMu.Lock()
		defer registryMu.Unlock()
		if len(registry) > maxIssuers {
			t.Errorf("%d issuers", len(registry))
		}
		for i, name := range names {
			if _, ok := registry[name]; ok != (i >= 6) {
				t.Errorf("issuer %d remembered = %v", i, ok)
			}
		}
	})
}
