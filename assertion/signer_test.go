package assertion

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewAcceptsEveryKeyKind(t *testing.T) {
	ecPEM := newECPEM(t)
	file := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(file, []byte(ecPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key, alg string
	}{
		{"an openssl SEC 1 EC P-256 key after its EC PARAMETERS block signs with ES256", testdata("ec-p256-sec1.pem"), AlgES256},
		{"an openssl PKCS#8 EC P-256 key signs with ES256", testdata("ec-p256-pkcs8.pem"), AlgES256},
		{"an openssl PKCS#8 Ed25519 key signs with EdDSA", testdata("ed25519-pkcs8.pem"), AlgEdDSA},
		{"an inline PKCS#8 EC P-256 key signs with ES256", ecPEM, AlgES256},
		{"an inline PKCS#8 Ed25519 key signs with EdDSA", newEdPEM(t), AlgEdDSA},
		{"an inline SEC 1 key from a file's contents signs with ES256", readTestdata(t, "ec-p256-sec1.pem"), AlgES256},
		{"a file path with surrounding white space is read", "  " + file + "\n", AlgES256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSigner(settings(t, tc.key), t0)
			if err != nil {
				t.Fatal(err)
			}
			if s.key.alg != tc.alg {
				t.Errorf("alg %s, want %s", s.key.alg, tc.alg)
			}
		})
	}
}

func TestNewRefusesUnusableKeys(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("no key in here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key string
		want      error
		text      string
	}{
		{"an empty key is refused as required", "", ErrRequired, "assertion.key: required"},
		{"a blank key is refused as required", " \n", ErrRequired, "assertion.key: required"},
		{"a missing file is refused and its path named", missing, ErrKeyUnreadable, `"` + missing + `": `},
		{"a value that is neither PEM nor a file name is refused without echoing it", "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg", ErrKeyUnreadable, "the value is not echoed"},
		{"a file without PEM blocks is refused", text, ErrKeyNotPEM, "no PEM block"},
		{"inline text with a broken PEM boundary is refused", "-----BEGIN PRIVATE KEY-----\nAAAA", ErrKeyNotPEM, "no PEM block"},
		{"inline PEM with literal \\n sequences is refused with the fix", `-----BEGIN PRIVATE KEY-----\nMIGHAgEA\n-----END PRIVATE KEY-----`, ErrKeyNotPEM, "use real line breaks"},
		{"EC PARAMETERS alone are refused", "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n", ErrKeyNotPEM, "only EC PARAMETERS"},
		{"an RSA PKCS#1 key is refused", testdata("rsa-pkcs1.pem"), ErrKeyUnsupported, "got an RSA key"},
		{"an RSA PKCS#8 key is refused", testdata("rsa-pkcs8.pem"), ErrKeyUnsupported, "got an RSA key"},
		{"an EC P-384 key is refused", testdata("ec-p384-sec1.pem"), ErrKeyUnsupported, "got an EC key on P-384"},
		{"an EC secp256k1 key is refused", testdata("ec-secp256k1-sec1.pem"), ErrKeyUnsupported, "another curve"},
		{"an X25519 key is refused", testdata("x25519-pkcs8.pem"), ErrKeyUnsupported, "key-agreement key, X25519"},
		{"an OpenSSH Ed25519 key is refused with the conversion to make", testdata("ed25519-openssh.pem"), ErrKeyUnsupported, "generate a PKCS#8 one"},
		{"an encrypted PKCS#8 key is refused", testdata("ed25519-encrypted-pkcs8.pem"), ErrKeyEncrypted, "encrypted private keys are not supported"},
		{"a legacy encrypted SEC 1 key is refused", testdata("ec-p256-encrypted-sec1.pem"), ErrKeyEncrypted, "encrypted private keys are not supported"},
		{"a public key is refused", testdata("ec-p256-public.pem"), ErrKeyPublic, "got a PUBLIC KEY block"},
		{"a certificate is refused", testdata("ec-p256-cert.pem"), ErrKeyPublic, "got a CERTIFICATE block"},
		{"two private keys in one file are refused", testdata("ec-p256-two-keys.pem"), ErrKeyMultiple, "more than one private key"},
		{"a private key followed by its certificate is refused", readTestdata(t, "ec-p256-pkcs8.pem") + readTestdata(t, "ec-p256-cert.pem"), ErrKeyPublic, "CERTIFICATE"},
		{"a PKCS#8 block with a damaged body is refused", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", ErrKeyMalformed, "malformed private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newSigner(settings(t, tc.key), t0)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %q is not %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "assertion.key: ") || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not name assertion.key and say %q", err, tc.text)
			}
			if strings.Contains(err.Error(), "MIGHAgEAMBMG") {
				t.Errorf("error %q echoes key material", err)
			}
		})
	}
}

func TestNewValidatesSettings(t *testing.T) {
	key := newECPEM(t)
	for _, tc := range []struct {
		name   string
		change func(*Settings)
		want   error
		text   string
	}{
		{"a missing issuer is refused", func(s *Settings) { s.Issuer = "" }, ErrRequired, "assertion.issuer: required"},
		{"an issuer with surrounding white space is refused", func(s *Settings) { s.Issuer = " https://gw.test" }, ErrValue, "assertion.issuer: invalid value"},
		{"an issuer with a control character is refused", func(s *Settings) { s.Issuer = "https://gw.test/\n" }, ErrValue, "assertion.issuer: invalid value"},
		{"an issuer with a colon that is not a URI is refused", func(s *Settings) { s.Issuer = ":gateway" }, ErrValue, "must be a URI"},
		{"a missing audience is refused", func(s *Settings) { s.Audience = "" }, ErrRequired, "assertion.audience: required"},
		{"an audience with a tab is refused", func(s *Settings) { s.Audience = "work\tflows" }, ErrValue, "assertion.audience: invalid value"},
		{"a kid with surrounding white space is refused", func(s *Settings) { s.KeyID = "k1 " }, ErrValue, "assertion.keyId: invalid value"},
		{"a lifetime of 4s is refused", func(s *Settings) { s.Lifetime = 4 * time.Second }, ErrLifetime, "assertion.lifetime: "},
		{"a lifetime of 1h1s is refused", func(s *Settings) { s.Lifetime = time.Hour + time.Second }, ErrLifetime, "not 1h0m1s"},
		{"a lifetime of 10.5s is refused as not whole seconds", func(s *Settings) { s.Lifetime = 10500 * time.Millisecond }, ErrLifetime, "whole seconds"},
		{"a negative lifetime is refused", func(s *Settings) { s.Lifetime = -time.Minute }, ErrLifetime, "assertion.lifetime: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(t, key)
			tc.change(&s)
			_, err := newSigner(s, t0)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q, want %q saying %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestNewReportsEveryProblemAtOnce(t *testing.T) {
	_, err := newSigner(Settings{Key: testdata("rsa-pkcs1.pem"), Lifetime: time.Second}, t0)
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"assertion.issuer: required", "assertion.audience: required", "assertion.lifetime: ", "assertion.key: "}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d %q, want it to start with %q", i, lines[i], w)
		}
	}
}

func TestNewDefaultsAndBounds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		want     time.Duration
	}{
		{"an unset lifetime is 60s", 0, 60 * time.Second},
		{"the shortest lifetime, 5s, is kept", 5 * time.Second, 5 * time.Second},
		{"the longest lifetime, 1h, is kept", time.Hour, time.Hour},
		{"a lifetime of 90s is kept", 90 * time.Second, 90 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(t, newECPEM(t))
			s.Lifetime = tc.lifetime
			sg := mustSigner(t, s, t0)
			if sg.Lifetime() != tc.want {
				t.Errorf("lifetime %s, want %s", sg.Lifetime(), tc.want)
			}
			tok, exp := sg.Mint(Claims{Subject: "alice"}, t0)
			if exp != t0.Unix()+int64(tc.want/time.Second) || tok == "" {
				t.Errorf("exp %d, want iat + %s", exp, tc.want)
			}
		})
	}
	t.Run("an unset kid is the RFC 7638 thumbprint of the public key", func(t *testing.T) {
		sg := mustSigner(t, settings(t, newECPEM(t)), t0)
		if sg.KeyID() != sg.key.thumb || len(sg.KeyID()) != 43 {
			t.Errorf("kid %q, thumbprint %q", sg.KeyID(), sg.key.thumb)
		}
	})
	t.Run("a configured kid is used as given, colon and all", func(t *testing.T) {
		s := settings(t, newEdPEM(t))
		s.KeyID = "gateway:2026-01"
		if kid := mustSigner(t, s, t0).KeyID(); kid != "gateway:2026-01" {
			t.Errorf("kid %q", kid)
		}
	})
}
