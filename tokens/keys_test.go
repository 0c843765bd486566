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
	secret, _ := SecretKey([]byte(testSecret))
	cases := []struct {
		key  *Key
		alg  string
		want bool
	}{
		{rsaKey, "RS256", true}, {rsaKey, "PS512", true}, {rsaKey, "HS256", false}, {rsaKey, "ES256", false},
		{ecKey, "ES256", true}, {ecKey, "ES384", false}, {ecKey, "HS256", false},
		{secret, "HS512", true}, {secret, "RS256", false}, {secret, "none", false},
	}
	for _, c := range cases {
		if got := c.key.Accepts(c.alg); got != c.want {
			t.Errorf("%s key accepts %s = %v", c.key.Family, c.alg, got)
		}
	}
}
