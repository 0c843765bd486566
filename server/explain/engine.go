// Package explain answers "why was this request allowed or denied?" for a Gatehouse configuration.
//
// The result and the headers the backend receives come from running the request through the
// middleware itself (gatehouse.New, with a next handler that captures the request), so they cannot
// disagree with the plugin. The step-by-step account beside them comes from the engine packages the
// plugin runs: matcher (which route matched, which others matched and why they lost), tokens (the
// token checks), policy (the tenant guard and every grant source, policy.Explain). An Explainer is
// safe for concurrent use.
package explain

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/gatehouse-dev/gatehouse"
)

// Explainer explains requests against one configuration.
type Explainer struct {
	mu       sync.Mutex // one request through the middleware at a time (the capture)
	handler  http.Handler
	captured *http.Request
	cancel   context.CancelFunc
	engine   gatehouse.Engine // the middleware's own compiled configuration
}

// New compiles cfg once, with gatehouse.New (whose refusal it returns as is); the explanation walks
// the very objects the middleware decides with (gatehouse.Engine). cfg is not modified.
func New(cfg *gatehouse.Config, name string) (*Explainer, error) {
	e := &Explainer{}
	ctx, cancel := context.WithCancel(context.Background())
	next := http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) { e.captured = req })
	h, err := gatehouse.New(ctx, next, cfg, name)
	if err != nil {
		cancel()
		return nil, err
	}
	g, ok := h.(*gatehouse.Gatehouse)
	if !ok {
		cancel()
		return nil, errors.New("gatehouse.New returned no *gatehouse.Gatehouse")
	}
	e.handler = h
	e.cancel = cancel
	e.engine = g.Engine()
	return e, nil
}

// Close releases the middleware's shared key sets and policy file.
func (e *Explainer) Close() {
	e.cancel()
}
