// Command k8sschema writes standalone, strict JSON schemas for kubeconform
// from a Kubernetes OpenAPI v2 document, so `helm template` output is
// validated offline. kubeconform normally downloads its schemas from
// GitHub (yannh/kubernetes-json-schema); the machines that run our tests
// reach only the package registries, and the Go module proxy serves
// k8s.io/kubernetes, whose api/openapi-spec/swagger.json is the API's own
// description. scripts/test-packaging.sh runs:
//
//	go mod download -json k8s.io/kubernetes@v1.31.4   (outside our go.mod)
//	go run ./packaging/helm/k8sschema -swagger .../api/openapi-spec/swagger.json -out DIR
//	kubeconform -strict -schema-location 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json'
//
// The output follows yannh/openapi2jsonschema's "standalone-strict"
// flavour: every $ref inlined, additionalProperties false on objects with
// declared properties, nulls allowed where a field is optional, and
// int-or-string and quantities accepting both forms.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type doc struct {
	Definitions map[string]map[string]any `json:"definitions"`
}

func main() {
	swagger := flag.String("swagger", "", "Kubernetes swagger.json (OpenAPI v2)")
	out := flag.String("out", "", "output directory")
	flag.Parse()
	if *swagger == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschema -swagger swagger.json -out DIR")
		os.Exit(2)
	}
	n, err := run(*swagger, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8sschema:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "k8sschema: %d schemas in %s\n", n, *out)
}

func run(swagger, out string) (int, error) {
	b, err := os.ReadFile(swagger)
	if err != nil {
		return 0, fmt.Errorf("read swagger: %w", err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		return 0, fmt.Errorf("decode swagger %s: %w", swagger, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, fmt.Errorf("create %s: %w", out, err)
	}
	n := 0
	for name, def := range d.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			if kind == "" || version == "" {
				continue
			}
			s := expand(d.Definitions, name, map[string]bool{}, true)
			// kubeconform's file naming: kind, first label of the group, version.
			file := strings.ToLower(kind)
			if group != "" {
				file += "-" + strings.ToLower(strings.Split(group, ".")[0])
			}
			file += "-" + strings.ToLower(version) + ".json"
			enc, err := json.Marshal(s)
			if err != nil {
				return n, fmt.Errorf("encode %s: %w", name, err)
			}
			if err := os.WriteFile(filepath.Join(out, file), enc, 0o644); err != nil {
				return n, fmt.Errorf("write %s: %w", file, err)
			}
			n++
		}
	}
	return n, nil
}

// expand returns the definition with every reference inlined. A reference
// cycle (only JSONSchemaProps has one) becomes an open schema.
func expand(defs map[string]map[string]any, name string, seen map[string]bool, root bool) map[string]any {
	switch name {
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		return map[string]any{"oneOf": []any{map[string]any{"type": []any{"string", "null"}}, map[string]any{"type": "integer"}}}
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		return map[string]any{"oneOf": []any{map[string]any{"type": []any{"string", "null"}}, map[string]any{"type": "number"}}}
	}
	if seen[name] {
		return map[string]any{}
	}
	def, ok := defs[name]
	if !ok {
		return map[string]any{} // a dangling reference: nothing to check against
	}
	seen[name] = true
	defer delete(seen, name)
	out, _ := walk(defs, def, seen, root).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	return out
}

func walk(defs map[string]map[string]any, v any, seen map[string]bool, root bool) any {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			return expand(defs, strings.TrimPrefix(ref, "#/definitions/"), seen, false)
		}
		out := make(map[string]any, len(x)+1)
		for k, val := range x {
			if pm, ok := val.(map[string]any); k == "properties" && ok {
				props := map[string]any{}
				for pk, pv := range pm {
					props[pk] = walk(defs, pv, seen, false)
				}
				out[k] = props
				continue
			}
			if k == "description" || strings.HasPrefix(k, "x-kubernetes-") {
				continue
			}
			out[k] = walk(defs, val, seen, false)
		}
		if _, ok := out["properties"]; ok {
			if _, set := out["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		if t, ok := out["type"].(string); ok && !root {
			out["type"] = []any{t, "null"}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = walk(defs, e, seen, false)
		}
		return out
	default:
		return v
	}
}
