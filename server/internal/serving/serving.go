// Package serving runs the gatehouse command's HTTP servers (forward-auth, serve) the same way:
// bounded timeouts, a JSON start line, and a graceful stop when the context ends.
package serving

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Grace is how long in-flight requests get to finish after SIGTERM or SIGINT.
const Grace = 10 * time.Second

// Options describe one server.
type Options struct {
	Name        string        // the command, as log lines name it ("serve", "forward-auth")
	Handler     http.Handler  // what answers
	Timeout     time.Duration // read and write timeout of a request
	StartFields string        // extra JSON members of the start line (`,"signing":false`), or ""
	SetReady    func(bool)    // switches the handler's readiness (503 while stopping)
	Listening   func(net.Addr)
}

// Run answers on ln until ctx ends, then stops taking requests (readiness off, listener closed)
// and waits up to Grace for the requests in flight. It returns the command's exit status.
func Run(ctx context.Context, ln net.Listener, o Options, stderr io.Writer) int {
	srv := &http.Server{Handler: o.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: o.Timeout, WriteTimeout: o.Timeout,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 1 << 20}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintln(stderr, `{"gatehouse":`+strconv.Quote(o.Name)+`,"listening":`+strconv.Quote(ln.Addr().String())+o.StartFields+`}`)
	if o.Listening != nil {
		o.Listening(ln.Addr())
	}
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "gatehouse "+o.Name+":", err)
		return 1
	case <-ctx.Done():
	}
	if o.SetReady != nil {
		o.SetReady(false)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), Grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintln(stderr, "gatehouse "+o.Name+": shutdown:", err)
		return 1
	}
	fmt.Fprintln(stderr, `{"gatehouse":`+strconv.Quote(o.Name)+`,"stopped":true}`)
	return 0
}
