package assertion

import (
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of the process-wide key registry. Its worst case is maxIssuers × maxKeysPerIssuer public
// JWKs of about 250 bytes each: about 256 KiB.
const (
	maxKeysPerIssuer = 16
	maxIssuers       = 64
)

// keyEntry is one public key seen for an issuer.
type keyEntry struct {
	until    int64 // latest exp of an assertion minted with this key (atomic; first field for 64-bit alignment)
	thumb    string
	kid      string
	jwk      []byte
	lifetime int64 // seconds: the longest lifetime any Signer of this key was configured with
	replaced int64 // Unix seconds when another key became current; 0 while this key is current
}

// issuerKeys are the keys of one issuer, most recently registered first: keys[0] is current.
type issuerKeys struct {
	keys    []*keyEntry
	touched int64
}

// The registry outlives middleware instances and configuration generations (Traefik calls New
// again on every reload), which is what lets a JWKS keep the key of the generation before.
var (
	registryMu sync.Mutex
	registry   = map[string]*issuerKeys{}
)

// JWKS returns the public JWK Set (RFC 7517 §5) to publish: the current key, and every earlier key
// of the same Issuer still within one Lifetime of being replaced (rotation: a backend must keep
// verifying assertions minted just before a configuration reload with a new key), or that signed an
// assertion not yet expired at now. Keys are unique by kid; this Signer's own key comes first.
func (s *Signer) JWKS(now time.Time) []byte {
	return jwks(s, now.Unix())
}

func jwks(s *Signer, now int64) []byte {
	out := make([]byte, 0, 64+len(s.jwk)*4)
	out = append(out, `{"keys":[`...)
	out = append(out, s.jwk...)
	registryMu.Lock()
	if ik := registry[s.issuer]; ik != nil {
		for _, e := range ik.keys {
			if e.kid != s.kid && fresh(e, now) {
				out = append(out, ',')
				out = append(out, e.jwk...)
			}
		}
	}
	registryMu.Unlock()
	out = append(out, "]}"...)
	return out
}

// fresh reports whether e must still be published at now: it is current, it was replaced less
// than one lifetime ago, or an assertion it signed has not expired.
func fresh(e *keyEntry, now int64) bool {
	return e.replaced == 0 || now < e.replaced+e.lifetime || now < atomic.LoadInt64(&e.until)
}

// register makes the key (thumb, kid) the current key of issuer at now and returns its entry,
// shared with every Signer of the same key. The key it replaces is stamped with now. A different
// key under the same kid is forgotten (a kid names one key; the default kid, the thumbprint, never
// collides). The oldest entries beyond maxKeysPerIssuer are forgotten, and the least recently
// registered issuer beyond maxIssuers.
func register(issuer, thumb, kid string, jwk []byte, lifetime, now int64) *keyEntry {
	registryMu.Lock()
	defer registryMu.Unlock()
	ik := registry[issuer]
	if ik == nil {
		if len(registry) >= maxIssuers {
			evictIssuer()
		}
		ik = &issuerKeys{}
		registry[issuer] = ik
	}
	ik.touched = now
	var e *keyEntry
	for _, k := range ik.keys {
		if k.thumb == thumb && k.kid == kid {
			e = k
		}
	}
	if len(ik.keys) > 0 && ik.keys[0] != e && ik.keys[0].replaced == 0 {
		ik.keys[0].replaced = now
	}
	if e == nil {
		e = &keyEntry{thumb: thumb, kid: kid, jwk: jwk}
	}
	e.replaced = 0
	if lifetime > e.lifetime {
		e.lifetime = lifetime
	}
	keys := make([]*keyEntry, 0, len(ik.keys)+1)
	keys = append(keys, e)
	for _, k := range ik.keys {
		if k != e && k.kid != kid && len(keys) < maxKeysPerIssuer {
			keys = append(keys, k)
		}
	}
	ik.keys = keys
	return e
}

// evictIssuer forgets the issuer registered least recently. Its Signers still publish their own
// key; only the memory of earlier keys goes.
func evictIssuer() {
	oldest := ""
	var at int64
	first := true
	for name, ik := range registry {
		if first || ik.touched < at {
			oldest = name
			at = ik.touched
			first = false
		}
	}
	delete(registry, oldest)
}
