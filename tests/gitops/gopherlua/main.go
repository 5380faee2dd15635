// Command argocd-health runs the health checks of an argocd-cm over objects, as Argo CD's
// application controller does (argocd.go says where each step comes from).
//
//	argocd-health -argocd-cm data.json -samples samples.json
//
// data.json is the ConfigMap's data (key -> value); samples.json is the file
// tests/gitops/samples.py writes ({"samples": [{"name": ..., "object": {...}}, ...]}).
// Prints one JSON object, by sample name:
//
//	{"<name>": {"lua": {"status": ..., "message": ...}, "luaError": "...", "argocd": {...}}}
//
// "lua" is what the script returned (ExecuteHealthLua), "luaError" its error, "argocd" what
// Argo CD shows (GetResourceHealth: "Pending deletion" for an object being deleted). Exits 1
// when argocd-cm has no health check for an object's group and kind.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type outcome struct {
	Lua      *healthStatus `json:"lua"`
	LuaError string        `json:"luaError,omitempty"`
	ArgoCD   *healthStatus `json:"argocd"`
}

func main() {
	cmFile := flag.String("argocd-cm", "", "JSON file: the argocd-cm ConfigMap's data")
	samplesFile := flag.String("samples", "", "JSON file: {\"samples\": [{\"name\", \"object\"}]}")
	flag.Parse()
	if err := run(*cmFile, *samplesFile); err != nil {
		fmt.Fprintln(os.Stderr, "argocd-health:", err)
		os.Exit(1)
	}
}

func run(cmFile, samplesFile string) error {
	var data map[string]string
	if err := readJSON(cmFile, &data); err != nil {
		return err
	}
	overrides, err := overridesFromConfigMap(data)
	if err != nil {
		return err
	}
	var input struct {
		Samples []struct {
			Name   string          `json:"name"`
			Object json.RawMessage `json:"object"`
		} `json:"samples"`
	}
	if err := readJSON(samplesFile, &input); err != nil {
		return err
	}
	results := map[string]outcome{}
	for _, sample := range input.Samples {
		// As the controller holds it: unstructured, integers as int64.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(sample.Object); err != nil {
			return fmt.Errorf("%s: %w", sample.Name, err)
		}
		override, ok := overrides[configMapKey(obj)]
		if !ok || override.HealthLua == "" {
			return fmt.Errorf("%s: argocd-cm has no health check for %q", sample.Name, configMapKey(obj))
		}
		var result outcome
		lua, err := executeHealthLua(obj, override.HealthLua, override.UseOpenLibs)
		if err != nil {
			result.LuaError = err.Error()
		} else {
			result.Lua = lua
		}
		result.ArgoCD, _ = resourceHealth(obj, override)
		results[sample.Name] = result
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

func readJSON(path string, into any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, into)
}
