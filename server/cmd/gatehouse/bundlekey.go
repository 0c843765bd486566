package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse-dev/gatehouse/server/admin"
)

const bundleKeyUsage = `usage: gatehouse bundle-key --key FILE [--generate ed25519|p256]

Prints the public key of a bundle signing key (serve --bundle-key) as PEM and as a JWK Set: either
is what gateways take as policyKey. With --generate it first writes a new PKCS#8 PEM private key to
FILE (mode 0600; an existing file is never overwritten).
`

func bundleKeyCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatehouse bundle-key", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	keyFile := fs.String("key", "", "")
	generate := fs.String("generate", "", "")
	err := fs.Parse(args)
	if err != nil || *keyFile == "" || fs.NArg() > 0 || (*generate != "" && *generate != "ed25519" && *generate != "p256") {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, bundleKeyUsage)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse bundle-key:", err)
		} else if *generate != "" && *generate != "ed25519" && *generate != "p256" {
			fmt.Fprintf(stderr, "gatehouse bundle-key: --generate: want ed25519 or p256, not %q\n", *generate)
		}
		fmt.Fprint(stderr, bundleKeyUsage)
		return 2
	}
	if *generate != "" {
		if err := writeKey(*keyFile, *generate); err != nil {
			fmt.Fprintln(stderr, "gatehouse bundle-key:", err)
			return 1
		}
	}
	k, err := admin.LoadSigningKey(*keyFile)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse bundle-key:", *keyFile+":", err)
		return 1
	}
	fmt.Fprintf(stdout, "# %s key, kid %s (RFC 7638 thumbprint)\n", k.Algorithm(), k.KeyID())
	_, _ = stdout.Write(k.PublicPEM())
	_, _ = stdout.Write(k.JWKS())
	fmt.Fprintln(stdout)
	return 0
}

func writeKey(path, kind string) error {
	var priv interface{}
	var err error
	if kind == "ed25519" {
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
