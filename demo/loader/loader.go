// Package loader loads Gatehouse the way Traefik v3.7 does: through Yaegi v0.16.1 from a GOPATH
// layout (src/github.com/gatehouse-dev/gatehouse with its vendor/ tree), stdlib symbols only,
// CreateConfig, a mapstructure decode of the string-valued configuration map (WeaklyTypedInput,
// comma-splitting of strings into lists), New, and ServeHTTP. The Compiled loader runs the very same
// steps against the compiled package, so every scenario can run both ways.
package loader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"

	"github.com/mitchellh/mapstructure"
	"github.com/traefik/yaegi/interp"
	"github.com/traefik/yaegi/stdlib"

	"github.com/gatehouse-dev/gatehouse"
)

// ModuleName is the plugin's import path, as declared in .traefik.yml.
const ModuleName = "github.com/gatehouse-dev/gatehouse"

// Loader builds middleware instances from a raw configuration map.
type Loader interface {
	Name() string
	New(ctx context.Context, next http.Handler, config map[string]interface{}, name string) (http.Handler, error)
}

// decode mirrors Traefik's pkg/plugins createConfig.
func decode(config map[string]interface{}, target interface{}) error {
	if len(config) == 0 {
		return nil
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           target,
	})
	if err != nil {
		return fmt.Errorf("failed to create configuration decoder: %w", err)
	}
	if err := dec.Decode(config); err != nil {
		return fmt.Errorf("failed to decode configuration: %w", err)
	}
	return nil
}

// Compiled loads the plugin package compiled into this binary.
type Compiled struct{}

// Name returns "compiled".
func (Compiled) Name() string { return "compiled" }

// New decodes config into CreateConfig's result and calls New.
func (Compiled) New(ctx context.Context, next http.Handler, config map[string]interface{}, name string) (http.Handler, error) {
	cfg := gatehouse.CreateConfig()
	if err := decode(config, cfg); err != nil {
		return nil, err
	}
	return gatehouse.New(ctx, next, cfg, name)
}

// Yaegi loads the plugin source through the interpreter, once per Yaegi value.
type Yaegi struct {
	interp         *interp.Interpreter
	fnNew          reflect.Value
	fnCreateConfig reflect.Value
}

// Eval evaluates Go source in the plugin's interpreter, for benchmarks that time one package of
// the plugin at a time.
func (y *Yaegi) Eval(src string) (reflect.Value, error) { return y.interp.Eval(src) }

// Name returns "yaegi".
func (*Yaegi) Name() string { return "yaegi" }

var (
	sharedOnce sync.Once
	shared     *Yaegi
	sharedErr  error
)

// Shared returns one interpreter-backed loader for the whole process, like Traefik's single
// interpreter per plugin (package-level state such as JWKS registries is shared the same way).
func Shared() (*Yaegi, error) {
	sharedOnce.Do(func() { shared, sharedErr = NewYaegi(RepoRoot(), os.Stdout, os.Stderr) })
	return shared, sharedErr
}

// RepoRoot returns the plugin repository root (the parent of the demo module).
func RepoRoot() string {
	if root := os.Getenv("GATEHOUSE_ROOT"); root != "" {
		return root
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// NewYaegi builds a GOPATH whose src/github.com/gatehouse-dev/gatehouse is the plugin at root, and
// imports it into a fresh interpreter.
func NewYaegi(root string, stdout, stderr *os.File) (*Yaegi, error) {
	gopath, err := os.MkdirTemp("", "gatehouse-gopath-")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(gopath, "src", "github.com", "gatehouse-dev")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := os.Symlink(abs, filepath.Join(dir, "gatehouse")); err != nil {
		return nil, err
	}
	i := interp.New(interp.Options{GoPath: gopath, Env: os.Environ(), Stdout: stdout, Stderr: stderr})
	if err := i.Use(stdlib.Symbols); err != nil {
		return nil, fmt.Errorf("failed to load symbols: %w", err)
	}
	if _, err := i.Eval(`import "` + ModuleName + `"`); err != nil {
		return nil, fmt.Errorf("failed to import plugin code %q: %w", ModuleName, err)
	}
	fnNew, err := i.Eval("gatehouse.New")
	if err != nil {
		return nil, fmt.Errorf("failed to eval New: %w", err)
	}
	fnCreateConfig, err := i.Eval("gatehouse.CreateConfig")
	if err != nil {
		return nil, fmt.Errorf("failed to eval CreateConfig: %w", err)
	}
	// Every package of the plugin is compiled by now: the interpreter reads no source after the
	// import, so the GOPATH (a directory and a link) goes at once instead of piling up in $TMPDIR.
	_ = os.RemoveAll(gopath)
	return &Yaegi{interp: i, fnNew: fnNew, fnCreateConfig: fnCreateConfig}, nil
}

// New mirrors Traefik's yaegiMiddlewareBuilder: CreateConfig, decode, New.
func (y *Yaegi) New(ctx context.Context, next http.Handler, config map[string]interface{}, name string) (http.Handler, error) {
	results := y.fnCreateConfig.Call(nil)
	if len(results) != 1 {
		return nil, fmt.Errorf("invalid number of return for the CreateConfig function: %d", len(results))
	}
	vConfig := results[0]
	if err := decode(config, vConfig.Interface()); err != nil {
		return nil, err
	}
	args := []reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(next), vConfig, reflect.ValueOf(name)}
	out := y.fnNew.Call(args)
	if len(out) > 1 && out[1].Interface() != nil {
		err, ok := out[1].Interface().(error)
		if !ok {
			return nil, errors.New("invalid error type")
		}
		return nil, err
	}
	handler, ok := out[0].Interface().(http.Handler)
	if !ok {
		return nil, fmt.Errorf("invalid handler type: %T", out[0].Interface())
	}
	return handler, nil
}
