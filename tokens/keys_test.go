package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func TestParsePEMKeys(t *testing.T) {
	k := fakeKeys()
	pkix1, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	ecDER, _ := x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	edDER, _ := x509.MarshalPKIXPublicKey(k.ed.Public())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake issuer"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.rsa.PublicKey, k.rsa)
	if err != nil {
		t.Fatal(err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	file := filepath.Join(t.TempDir(), "issuer.pem")
	os.WriteFile(file, []byte(pemBlock("PUBLIC KEY", ecDER)), 0o644)
	cases := []struct {
		name   string
		entry  string
		family string
		err    string
	}{
		{"an RSA public key", pemBlock("PUBLIC KEY", pkix1), FamilyRSA, ""},
		{"a PKCS#1 RSA public key", pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)), FamilyRSA, ""},
		{"an EC public key", pemBlock("PUBLIC KEY", ecDER), FamilyEC, ""},
		{"an Ed25519 public key", pemBlock("PUBLIC KEY", edDER), FamilyOKP, ""},
		{"a certificate yields its public key", pemBlock("CERTIFICATE", certDER), FamilyRSA, ""},
		{"a file path is read", file, FamilyEC, ""},
		{"a private key is refused", pemBlock("PRIVATE KEY", privDER), "", "is a private key"},
		{"an RSA key under 2048 bits is refused", pemBlock("PUBLIC KEY", smallDER), "", "shorter than 2048 bits"},
		{"garbage is refused", "-----BEGIN nothing", "", "not a PEM public key"},
		{"a missing file is refused", "/nonexistent/key.pem", "", "not inline PEM and not a readable file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, err := ParsePEMKeys(c.entry)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || len(keys) != 1 || keys[0].Family != c.family {
				t.Fatalf("keys %v err %v", keys, err)
			}
		})
	}
}

func TestKeysOnlyAcceptTheirOwnAlgorithms(t *testing.T) {
	k := fakeKeys()
	rsaKey, _ := publicKey(&k.rsa.PublicKey)
	ecKey, _ := publicKey(&k.ec.PublicKey)
	secret, _ := SecretKey([]byte(testSecret)) // 38 bytes
	cases := []struct {
		name string
		key  *Key
		alg  string
		want bool
	}{
		{"an RSA key verifies RS256", rsaKey, "RS256", true},
		{"an RSA key verifies PS512", rsaKey, "PS512", true},
		{"an RSA key never verifies HS256", rsaKey, "HS256", false},
		{"an RSA key never verifies ES256", rsaKey, "ES256", false},
		{"a P-256 key verifies ES256", ecKey, "ES256", true},
		{"a P-256 key never verifies ES384", ecKey, "ES384", false},
		{"an EC key never verifies HS256", ecKey, "HS256", false},
		{"a 38-byte secret verifies HS256", secret, "HS256", true},
		{"a 38-byte secret does not verify HS384", secret, "HS384", false},
		{"a 38-byte secret does not verify HS512", secret, "HS512", false},
		{"a secret never verifies RS256", secret, "RS256", false},
		{"no key verifies none", secret, "none", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.key.Accepts(c.alg); got != c.want {
				t.Fatalf("%s key accepts %s = %v", c.key.Family, c.alg, got)
			}
		})
	}
}

func TestHMACKeysMustBeAsLongAsTheHash(t *testing.T) {
	cases := []struct {
		name string
		alg  string
		size int
		want bool
	}{
		{"a 31-byte secret is one short for HS256", "HS256", 31, false},
		{"a 32-byte secret verifies HS256", "HS256", 32, true},
		{"a 47-byte secret is one short for HS384", "HS384", 47, false},
		{"a 48-byte secret verifies HS384", "HS384", 48, true},
		{"a 63-byte secret is one short for HS512", "HS512", 63, false},
		{"a 64-byte secret verifies HS512", "HS512", 64, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := &Key{Family: FamilyHMAC, Public: []byte(strings.Repeat("k", c.size))}
			if got := key.Accepts(c.alg); got != c.want {
				t.Fatalf("Accepts(%s) = %v", c.alg, got)
			}
			if got := MinHMACKeyBytes(c.alg) <= c.size; got != c.want {
				t.Fatalf("MinHMACKeyBytes(%s) = %d", c.alg, MinHMACKeyBytes(c.alg))
			}
		})
	}
	if n := MinHMACKeyBytes("RS256"); n != 0 {
		t.Fatalf("MinHMACKeyBytes(RS256) = %d, want 0", n)
	}
}

func TestDefaultAlgorithmsFollowTheKeys(t *testing.T) {
	k := fakeKeys()
	ecKey, _ := publicKey(&k.ec.PublicKey)
	rsaKey, _ := publicKey(&k.rsa.PublicKey)
	secret := func(n int) *Key { s, _ := SecretKey([]byte(strings.Repeat("s", n))); return s }
	asym := "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA"
	cases := []struct {
		name   string
		keys   []*Key
		remote bool
		want   string
	}{
		{"a 32-byte secret allows HS256 only", []*Key{secret(32)}, false, "HS256"},
		{"a 48-byte secret allows HS256 and HS384", []*Key{secret(48)}, false, "HS256,HS384"},
		{"a 64-byte secret allows every HS algorithm", []*Key{secret(64)}, false, "HS256,HS384,HS512"},
		{"a P-256 key allows ES256 only", []*Key{ecKey}, false, "ES256"},
		{"an RSA key allows RS and PS", []*Key{rsaKey}, false, "RS256,RS384,RS512,PS256,PS384,PS512"},
		{"a key set allows every asymmetric algorithm", nil, true, asym},
		{"a short secret beside a key set adds HS256 only", []*Key{secret(40)}, true, "HS256," + asym},
		{"no key allows nothing", nil, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(DefaultAlgorithmsFor(c.keys, c.remote), ","); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
		})
	}
}
