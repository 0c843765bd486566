package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// composeService is the part of a compose service the demo reads.
type composeService struct {
	Labels interface{} `yaml:"labels"` // a list of "k=v" or a map
}

// ComposeLabels returns the labels of a service in a compose file, as Docker hands them to Traefik.
func ComposeLabels(path, service string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	svc, ok := doc.Services[service]
	if !ok {
		return nil, fmt.Errorf("%s: no service %q", path, service)
	}
	labels := map[string]string{}
	switch l := svc.Labels.(type) {
	case []interface{}:
		for _, e := range l {
			k, v, _ := strings.Cut(fmt.Sprint(e), "=")
			labels[k] = v
		}
	case map[string]interface{}:
		for k, v := range l {
			labels[k] = fmt.Sprint(v)
		}
	}
	return labels, nil
}

// routerMiddlewares returns the gatehouse middleware configurations that the router named in the
// labels uses, in chain order, decoded the way Traefik decodes them.
func routerMiddlewares(labels map[string]string, router string) ([]string, map[string]map[string]interface{}, error) {
	confs, err := loader.FromLabels(labels)
	if err != nil {
		return nil, nil, err
	}
	chain := strings.Split(labels["traefik.http.routers."+router+".middlewares"], ",")
	var names []string
	for _, n := range chain {
		n = strings.TrimSpace(n)
		if _, ok := confs[n]; ok {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("router %q uses no gatehouse middleware", router)
	}
	return names, confs, nil
}

// controlPlaneSettings is where compose.postgres.yaml's labels find the gateway's settings file
// (written by its controlplane-setup service); the no-Docker demo writes it elsewhere.
const controlPlaneSettings = "/run/gatehouse/gatehouse.yaml"

// controlPlaneLabels returns the workflows service's labels with compose.postgres.yaml's
// override applied, as docker compose -f compose.yaml -f compose.postgres.yaml merges them (a
// label of the override replaces the one of the same key), and the settings file at settings.
func controlPlaneLabels(root string, labels map[string]string, settings string) (map[string]string, error) {
	override, err := ComposeLabels(filepath.Join(root, "demo", "compose.postgres.yaml"), "workflows")
	if err != nil {
		return nil, err
	}
	merged := map[string]string{}
	for k, v := range labels {
		merged[k] = v
	}
	found := false
	for k, v := range override {
		if strings.HasSuffix(k, ".settingsFile") && v == controlPlaneSettings {
			v, found = settings, true
		}
		merged[k] = v
	}
	if !found {
		return nil, fmt.Errorf("compose.postgres.yaml: no label names settingsFile=%s for the workflows service", controlPlaneSettings)
	}
	return merged, nil
}
