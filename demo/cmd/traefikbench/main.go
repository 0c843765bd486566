// Command traefikbench measures Gatehouse inside a real Traefik binary (issue 10's "inside a real
// Traefik" figures in BENCHMARKS.md): one Traefik with four routers to one loopback backend that
// answers at once, loaded by wrk in turns on the same machine:
//
//	none   no middleware
//	empty  an interpreted local plugin that only calls next (the floor of any Yaegi plugin)
//	warm   Gatehouse with an ES256 static key, the same token every request (a cached decision)
//	cold   the same with cacheSize "0" (every request verifies the token and decides afresh)
//
// It reports requests per second per round, each router's rate as a share of the first router
// measured ("none" unless -routers says otherwise) in the same round (the median over rounds), and Traefik's own CPU time per request (user + system, read from
// /proc), which moves less with the machine's load than the rates do.
//
//	go -C demo run ./cmd/traefikbench -traefik /path/to/traefik [-duration 8s] [-rounds 3] [-warmup 3s]
//
// Traefik is not part of the repository: build one (go build ./cmd/traefik in a Traefik checkout)
// or download a release. wrk must be on the PATH (Debian package wrk).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"
)

// routers are measured in this order in every round.
var routers = []string{"none", "empty", "warm", "cold"}

func main() {
	traefik := flag.String("traefik", "", "path of the Traefik binary (required)")
	root := flag.String("root", "..", "the Gatehouse checkout loaded as Traefik's local plugin")
	duration := flag.Duration("duration", 8*time.Second, "wrk's duration per router and round")
	rounds := flag.Int("rounds", 3, "rounds (each measures every router once)")
	warmup := flag.Duration("warmup", 3*time.Second, "an unmeasured load of every router before the first round (the plugins' caches, Traefik's pools and the collector settle)")
	connections := flag.Int("connections", 16, "wrk's connections")
	threads := flag.Int("threads", 2, "wrk's threads")
	only := flag.String("routers", strings.Join(routers, ","), "the routers measured, in this order (all four are configured)")
	profile := flag.String("profile", "", "ROUTER=FILE: write a CPU profile of Traefik (api.debug's pprof) taken while ROUTER is loaded in the last round")
	flag.Parse()
	if *traefik == "" {
		fmt.Fprintln(os.Stderr, "traefikbench: -traefik PATH is required (a Traefik v3 binary)")
		os.Exit(2)
	}
	profRouter, profFile, _ := strings.Cut(*profile, "=")
	if *profile != "" && profFile == "" {
		fmt.Fprintln(os.Stderr, "traefikbench: -profile wants ROUTER=FILE, for example warm=/tmp/warm.prof")
		os.Exit(2)
	}
	measured := strings.Split(*only, ",")
	for _, name := range measured {
		if !contains(routers, name) {
			fmt.Fprintf(os.Stderr, "traefikbench: -routers: unknown router %q (want some of %s)\n", name, strings.Join(routers, ","))
			os.Exit(2)
		}
	}
	if err := run(*traefik, *root, measured, *duration, *warmup, *rounds, *connections, *threads, profRouter, profFile); err != nil {
		fmt.Fprintln(os.Stderr, "traefikbench:", err)
		os.Exit(1)
	}
}

func run(traefik, root string, measured []string, duration, warmup time.Duration, rounds, connections, threads int, profRouter, profFile string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not on the PATH (apt-get install wrk)")
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(root, ".traefik.yml")); err != nil {
		return fmt.Errorf("-root %s: not a Gatehouse checkout (no .traefik.yml)", root)
	}
	dir, err := os.MkdirTemp("", "gatehouse-traefikbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	backend, err := startBackend()
	if err != nil {
		return err
	}
	defer backend.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	token, pemKey, err := credentials(key)
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	if err := layout(dir, root, backend.Addr().String(), port, apiPort, pemKey); err != nil {
		return err
	}
	cmd := exec.Command(traefik, "--configFile="+filepath.Join(dir, "traefik.yml"))
	cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(dir, "traefik.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitReady(base, token); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "traefik.log"))
		return fmt.Errorf("%v; Traefik's log:\n%s", err, log)
	}

	if warmup > 0 {
		for _, name := range measured {
			if _, _, err := load(base+"/"+name, token, warmup, connections, threads); err != nil {
				return fmt.Errorf("warm-up of %s: %v", name, err)
			}
		}
	}
	rates := map[string][]float64{}
	cpu := map[string][]float64{}
	for r := 1; r <= rounds; r++ {
		for _, name := range measured {
			before, err := cpuTime(cmd.Process.Pid)
			if err != nil {
				return err
			}
			var profiled chan error
			if name == profRouter && r == rounds {
				profiled = make(chan error, 1)
				go func() { profiled <- saveProfile(apiPort, duration, profFile) }()
			}
			n, rps, err := load(base+"/"+name, token, duration, connections, threads)
			if err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			if profiled != nil {
				if err := <-profiled; err != nil {
					return fmt.Errorf("profile: %v", err)
				}
				fmt.Printf("(CPU profile of Traefik under %s: %s; go tool pprof -top %s %s)\n", name, profFile, traefik, profFile)
			}
			after, err := cpuTime(cmd.Process.Pid)
			if err != nil {
				return err
			}
			rates[name] = append(rates[name], rps)
			cpu[name] = append(cpu[name], float64(after-before)/float64(time.Microsecond)/float64(n))
			fmt.Printf("round %d  %-5s  %9.0f requests/s  %6.1f µs of Traefik CPU per request\n", r, name, rps, cpu[name][len(cpu[name])-1])
		}
	}
	fmt.Printf("\n| router | requests/s (rounds) | ÷ %s (median) | Traefik CPU µs per request (median) | beyond %s |\n|---|---|---:|---:|---:|\n", measured[0], measured[0])
	noneCPU := median(cpu[measured[0]])
	for _, name := range measured {
		var cells []string
		var ratios []float64
		for i, rps := range rates[name] {
			cells = append(cells, fmt.Sprintf("%.0f", rps))
			ratios = append(ratios, rps/rates[measured[0]][i])
		}
		fmt.Printf("| %s | %s | %.2f | %.1f | %.1f |\n", name, strings.Join(cells, " / "), median(ratios), median(cpu[name]), median(cpu[name])-noneCPU)
	}
	return nil
}

// credentials mints the ES256 token every request carries (valid for a day) and returns the PEM
// public key Gatehouse verifies it with.
func credentials(key *ecdsa.PrivateKey) (string, string, error) {
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://issuer.bench", "aud": "bench", "sub": "alice", "org_id": "acme", "roles": []string{"admin"},
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", err
	}
	return token, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// emptyPlugin is the floor: a local plugin whose middleware only calls next.
var emptyPlugin = map[string]string{
	"go.mod":       "module github.com/gatehouse-dev/emptyplugin\n\ngo 1.22\n",
	".traefik.yml": "displayName: Empty\ntype: middleware\nimport: github.com/gatehouse-dev/emptyplugin\nsummary: calls next, nothing else\ntestData: {}\n",
	"empty.go": `package emptyplugin

import (
	"context"
	"net/http"
)

type Config struct{}

func CreateConfig() *Config { return &Config{} }

type empty struct{ next http.Handler }

func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	return &empty{next: next}, nil
}

func (e *empty) ServeHTTP(rw http.ResponseWriter, req *http.Request) { e.next.ServeHTTP(rw, req) }
`,
}

// layout writes Traefik's working directory: the two local plugins (Gatehouse as a symbolic link
// to root), the static configuration and the file provider's dynamic configuration.
func layout(dir, root, backend string, port, apiPort int, pemKey string) error {
	src := filepath.Join(dir, "plugins-local", "src", "github.com", "gatehouse-dev")
	if err := os.MkdirAll(filepath.Join(src, "emptyplugin"), 0o755); err != nil {
		return err
	}
	if err := os.Symlink(root, filepath.Join(src, "gatehouse")); err != nil {
		return err
	}
	for name, text := range emptyPlugin {
		if err := os.WriteFile(filepath.Join(src, "emptyplugin", name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	static := map[string]interface{}{
		"entryPoints": map[string]interface{}{
			"web":     map[string]string{"address": "127.0.0.1:" + strconv.Itoa(port)},
			"traefik": map[string]string{"address": "127.0.0.1:" + strconv.Itoa(apiPort)}, // the API, for -profile
		},
		"api":       map[string]bool{"insecure": true, "debug": true, "dashboard": false},
		"providers": map[string]interface{}{"file": map[string]string{"filename": filepath.Join(dir, "dynamic.yml")}},
		"log":       map[string]string{"level": "ERROR"},
		"experimental": map[string]interface{}{"localPlugins": map[string]interface{}{
			"gatehouse": map[string]string{"moduleName": "github.com/gatehouse-dev/gatehouse"},
			"empty":     map[string]string{"moduleName": "github.com/gatehouse-dev/emptyplugin"},
		}},
	}
	gatehouse := func(extra ...string) map[string]interface{} {
		conf := map[string]interface{}{"issuers": []string{"https://issuer.bench"}, "audiences": []string{"bench"}, "keys": []string{pemKey}}
		for i := 0; i+1 < len(extra); i += 2 {
			conf[extra[i]] = extra[i+1]
		}
		return map[string]interface{}{"plugin": map[string]interface{}{"gatehouse": conf}}
	}
	routerConf := map[string]interface{}{}
	for _, name := range routers {
		r := map[string]interface{}{"rule": "PathPrefix(`/" + name + "`)", "entryPoints": []string{"web"}, "service": "backend"}
		if name != "none" {
			r["middlewares"] = []string{name}
		}
		routerConf[name] = r
	}
	dynamic := map[string]interface{}{"http": map[string]interface{}{
		"routers":  routerConf,
		"services": map[string]interface{}{"backend": map[string]interface{}{"loadBalancer": map[string]interface{}{"servers": []map[string]string{{"url": "http://" + backend}}}}},
		"middlewares": map[string]interface{}{
			"empty": map[string]interface{}{"plugin": map[string]interface{}{"empty": map[string]string{}}},
			"warm":  gatehouse(),
			"cold":  gatehouse("cacheSize", "0"),
		},
	}}
	for name, v := range map[string]interface{}{"traefik.yml": static, "dynamic.yml": dynamic} {
		text, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), text, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// saveProfile fetches a CPU profile of Traefik covering most of one load period.
func saveProfile(apiPort int, d time.Duration, file string) error {
	seconds := int(d.Seconds()) - 1
	if seconds < 1 {
		seconds = 1
	}
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(apiPort) + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("Traefik's pprof answered %s", resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

func startBackend() (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	}()
	return l, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until every router answers 200 with the token (the plugins loaded and Gatehouse
// allows it), and checks that Gatehouse refuses a request without it.
func waitReady(base, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	status := func(path, tok string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, name := range routers {
		for status("/"+name, token) != 200 {
			if ctx.Err() != nil {
				return fmt.Errorf("router %s never answered 200 within 60 s", name)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if got := status("/warm", ""); got != 401 {
		return fmt.Errorf("Gatehouse answered %d to a request without a token, want 401", got)
	}
	return nil
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrors   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// load runs wrk against url and returns the requests it made and their rate.
func load(url, token string, d time.Duration, connections, threads int) (int, float64, error) {
	out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(connections), "-d"+strconv.Itoa(int(d.Seconds()))+"s",
		"-H", "Authorization: Bearer "+token, url).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		return 0, 0, fmt.Errorf("%s non-2xx answers:\n%s", m[1], out)
	}
	n, rate := wrkRequests.FindSubmatch(out), wrkRate.FindSubmatch(out)
	if n == nil || rate == nil {
		return 0, 0, fmt.Errorf("cannot read wrk's output:\n%s", out)
	}
	requests, _ := strconv.Atoi(string(n[1]))
	rps, _ := strconv.ParseFloat(string(rate[1]), 64)
	return requests, rps, nil
}

// cpuTime returns the user and system CPU time the process has used (/proc/PID/stat, in clock
// ticks of 1/100 s, as Linux reports them to user space).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
