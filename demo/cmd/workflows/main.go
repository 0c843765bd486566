// Command workflows runs the demo workflow API; put it behind Gatehouse.
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/demo/workflows"
)

func main() {
	addr := flag.String("addr", ":9001", "listen address")
	flag.Parse()
	log.Printf("workflows API listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, workflows.New().Handler()))
}
