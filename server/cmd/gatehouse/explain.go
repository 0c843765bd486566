package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/explain"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

const explainUsage = `usage: gatehouse explain --config FILE [--header 'Name: value']... [--token TOKEN | --claims JSON (--key PEMFILE | --secret S)] [--json] METHOD URL`

type headerList []string

func (h *headerList) String() string     { return strings.Join(*h, ", ") }
func (h *headerList) Set(v string) error { *h = append(*h, v); return nil }

// explainCommand prints the decision on one request step by step. Exit status 0 when the request
// reaches the backend, 1 when the middleware answers it itself or the configuration is refused, 2
// for a usage error.
func explainCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, explainUsage); fs.PrintDefaults() }
	config := fs.String("config", "", "a plain Gatehouse YAML file")
	token := fs.String("token", "", "the bearer token the request carries")
	claims := fs.String("claims", "", "claims (JSON) of a test token to mint")
	key := fs.String("key", "", "PEM private key file that signs the test token (ES256, EdDSA or RS256)")
	secret := fs.String("secret", "", "HMAC secret that signs the test token (HS256)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var hdrs headerList
	fs.Var(&hdrs, "header", "a request header 'Name: value' (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" || fs.NArg() != 2 || (*token != "" && *claims != "") || (*claims != "" && (*key == "") == (*secret == "")) {
		fmt.Fprintln(stderr, explainUsage)
		return 2
	}
	req, err := http.NewRequestWithContext(ctx, fs.Arg(0), fs.Arg(1), nil)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 2
	}
	req.Host = req.URL.Host
	req.RequestURI = req.URL.RequestURI()
	for _, h := range hdrs {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(stderr, "gatehouse explain: --header %q: want 'Name: value'\n", h)
			return 2
		}
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, "Host") {
			req.Host = strings.TrimSpace(value)
			continue
		}
		k := textproto.CanonicalMIMEHeaderKey(name)
		req.Header[k] = append(req.Header[k], strings.TrimSpace(value))
	}
	if *claims != "" {
		var pemKey []byte
		if *key != "" {
			if pemKey, err = os.ReadFile(*key); err != nil {
				fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
				return 1
			}
		}
		if *token, err = explain.Mint(*claims, *secret, pemKey, time.Now()); err != nil {
			fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
			return 1
		}
	}
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	cfg, err := forwardauth.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 1
	}
	x, err := explain.New(cfg, "explain")
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse explain: %v\n", err)
		return 1
	}
	defer x.Close()
	r := x.Explain(req)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
	} else {
		r.WriteText(stdout)
	}
	if r.Result.Forwarded {
		return 0
	}
	return 1
}
