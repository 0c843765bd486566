// Command issuer runs the demo token issuer (not an identity provider).
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/demo/issuer"
)

func main() {
	addr := flag.String("addr", ":9000", "listen address")
	name := flag.String("issuer", "http://issuer:9000", "issuer name: the iss claim and the base of the discovery URLs")
	flag.Parse()
	iss, err := issuer.New(*name)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("demo issuer %s listening on %s", *name, *addr)
	log.Fatal(http.ListenAndServe(*addr, iss.Handler()))
}
