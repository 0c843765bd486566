// Command workflows runs the demo workflow API; put it behind Gatehouse.
//
//	go run ./cmd/workflows -addr :9001
//	go run ./cmd/workflows -addr :9001 -assertion-jwks http://traefik:8080/.well-known/gatehouse/jwks.json \
//	    -assertion-issuer http://traefik:8080 -assertion-audience workflows-api
//
// With -assertion-jwks the API refuses (401) every request but /healthz that does not carry the
// gateway's valid signed X-Auth-Assertion.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/demo/workflows"
)

func main() {
	addr := flag.String("addr", ":9001", "listen address")
	jwks := flag.String("assertion-jwks", "", "the gateway's JWK Set URL; when set, a valid X-Auth-Assertion is required")
	iss := flag.String("assertion-issuer", "http://traefik:8080", "the iss of the gateway's assertions")
	aud := flag.String("assertion-audience", "workflows-api", "the aud this API expects in the gateway's assertions")
	flag.Parse()
	s := workflows.New()
	if *jwks != "" {
		if err := s.RequireAssertion(context.Background(), workflows.AssertionConfig{JWKSURL: *jwks, Issuer: *iss, Audience: *aud}); err != nil {
			log.Fatal(err)
		}
		log.Printf("workflows API requires the gateway's signed assertion (iss %s, aud %s, keys %s)", *iss, *aud, *jwks)
	}
	log.Printf("workflows API listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, s.Handler()))
}
