package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

const tinySwagger = `{"definitions": {
  "io.k8s.api.apps.v1.Deployment": {
    "type": "object",
    "properties": {"spec": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}},
    "x-kubernetes-group-version-kind": [{"group": "apps", "kind": "Deployment", "version": "v1"}]
  },
  "io.k8s.api.apps.v1.DeploymentSpec": {
    "type": "object",
    "properties": {
      "replicas": {"type": "integer"},
      "port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
      "self": {"$ref": "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"}
    }
  },
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string"},
  "io.k8s.api.core.v1.Service": {
    "type": "object", "properties": {},
    "x-kubernetes-group-version-kind": [{"group": "", "kind": "Service", "version": "v1"}]
  }
}}`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "swagger.json")
	if err := os.WriteFile(in, []byte(tinySwagger), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := run(in, filepath.Join(dir, "out"))
	if err != nil || n != 2 {
		t.Fatalf("run = %d, %v; want 2 schemas", n, err)
	}
	// kubeconform's names: kind, first group label, version.
	b, err := os.ReadFile(filepath.Join(dir, "out", "deployment-apps-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "service-v1.json")); err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s["additionalProperties"] != false {
		t.Error("root object is not strict")
	}
	spec := s["properties"].(map[string]any)["spec"].(map[string]any)
	if spec["additionalProperties"] != false {
		t.Error("inlined spec is not strict")
	}
	props := spec["properties"].(map[string]any)
	if _, ok := props["port"].(map[string]any)["oneOf"]; !ok {
		t.Errorf("int-or-string not widened: %v", props["port"])
	}
	if len(props["self"].(map[string]any)) != 0 {
		t.Errorf("reference cycle not cut: %v", props["self"])
	}
}

// FuzzRun: whatever the OpenAPI document holds, run writes schemas or
// returns an error, never panics.
func FuzzRun(f *testing.F) {
	f.Add([]byte(tinySwagger))
	f.Add([]byte(`{"definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"x-kubernetes-group-version-kind": [{"kind": "B", "version": "v1"}], "$ref": "#/definitions/a"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		in := filepath.Join(dir, "swagger.json")
		if err := os.WriteFile(in, data, 0o600); err != nil {
			t.Fatal(err)
		}
		run(in, filepath.Join(dir, "out"))
	})
}
