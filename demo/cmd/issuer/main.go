// Command issuer runs the demo token issuer (not an identity provider).
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/demo/issuer"
)

// clients collects -client id=redirect-uri flags.
type clients []string

func (c *clients) String() string     { return strings.Join(*c, ",") }
func (c *clients) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	addr := flag.String("addr", ":9000", "listen address")
	name := flag.String("issuer", "http://issuer:9000", "issuer name: the iss claim and the base of the discovery URLs")
	public := flag.String("public", "", "the base URL browsers reach the login page (/authorize) at, when not the issuer name")
	var cs clients
	flag.Var(&cs, "client", "an OpenID Connect client and its redirect URI, id=uri (repeatable), e.g. gatehouse-ui=http://127.0.0.1:8081/ui/callback")
	flag.Parse()
	iss, err := issuer.New(*name)
	if err != nil {
		log.Fatal(err)
	}
	if *public != "" {
		iss.SetPublicURL(*public)
	}
	for _, c := range cs {
		id, uri, ok := strings.Cut(c, "=")
		if !ok || id == "" || uri == "" {
			log.Fatalf("-client %q: want id=redirect-uri", c)
		}
		iss.AllowClient(id, uri)
	}
	log.Printf("demo issuer %s listening on %s", *name, *addr)
	log.Fatal(http.ListenAndServe(*addr, iss.Handler()))
}
