package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// startTraefik runs a real Traefik binary as the gateway instead of the Yaegi stand-in: the compose
// file's static options (entry point, the local plugin) and the workflows service's labels turned
// into a file-provider configuration, in a temporary working directory laid out as the compose file
// lays out Traefik's (plugins-local/src/<module> is this checkout, demo/ the demo's files).
//
// Outside Docker the compose names do not resolve for another process, so the generated
// configuration differs from the labels in two places, both said on stdout: the service's URL is
// the local workflows API, and jwksURL names the local issuer's key set (the labels' settings file
// finds it through OIDC discovery at http://issuer:9000, which only the compose network resolves);
// with the control plane, policyURL names its local address likewise.
func (d *Demo) startTraefik(binary, gatewayAddr, root string, names []string, confs map[string]map[string]interface{}) error {
	dir, err := os.MkdirTemp("", "gatehouse-traefik-")
	if err != nil {
		return err
	}
	d.cleanup = append(d.cleanup, func() { os.RemoveAll(dir) })
	plugin := filepath.Join(dir, "plugins-local", "src", "github.com", "gatehouse-dev")
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(root, filepath.Join(plugin, "gatehouse")); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join(root, "demo"), filepath.Join(dir, "demo")); err != nil {
		return err
	}
	middlewares := map[string]interface{}{}
	for _, name := range names {
		conf := map[string]interface{}{}
		for k, v := range confs[name] {
			conf[k] = v
		}
		conf["jwksURL"] = d.IssuerURL + "/jwks"
		if d.ControlPlane != nil {
			conf["policyURL"] = d.ControlPlane.URL + "/v1/bundle" // the settings file names http://gatehouse:8081
		}
		middlewares[name] = map[string]interface{}{"plugin": map[string]interface{}{"gatehouse": conf}}
	}
	dynamic := map[string]interface{}{"http": map[string]interface{}{
		"routers": map[string]interface{}{"workflows": map[string]interface{}{
			"rule": "PathPrefix(`/`)", "entryPoints": []string{"web"}, "service": "workflows", "middlewares": names}},
		"services": map[string]interface{}{"workflows": map[string]interface{}{
			"loadBalancer": map[string]interface{}{"servers": []map[string]string{{"url": d.WorkflowsURL}}}}},
		"middlewares": middlewares,
	}}
	static := map[string]interface{}{
		"entryPoints":  map[string]interface{}{"web": map[string]string{"address": gatewayAddr}},
		"experimental": map[string]interface{}{"localPlugins": map[string]interface{}{"gatehouse": map[string]string{"moduleName": "github.com/gatehouse-dev/gatehouse"}}},
		"providers":    map[string]interface{}{"file": map[string]string{"filename": filepath.Join(dir, "dynamic.yaml")}},
		"log":          map[string]string{"level": "INFO"},
	}
	for file, doc := range map[string]interface{}{"dynamic.yaml": dynamic, "traefik.yaml": static} {
		b, err := yaml.Marshal(doc)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o644); err != nil {
			return err
		}
	}
	logFile, err := os.Create(filepath.Join(dir, "traefik.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(binary, "--configFile="+filepath.Join(dir, "traefik.yaml"))
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", binary, err)
	}
	d.cleanup = append(d.cleanup, func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logFile.Close()
	})
	d.TraefikLog = logFile.Name()
	// Ready when the public health route answers through the plugin.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(d.GatewayURL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	log, _ := os.ReadFile(logFile.Name())
	return errors.New("traefik did not serve " + d.GatewayURL + "/healthz within 60s; its log:\n" + lastLines(string(log), 20))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
