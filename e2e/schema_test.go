package e2e_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palier-lifts/palier/wire"
)

// batchSchema is docs/schema/batch.schema.json, compiled once.
var batchSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	_, file, _, _ := runtime.Caller(0)
	return c.Compile(filepath.Join(filepath.Dir(file), "..", "docs", "schema", "batch.schema.json"))
})

// checkSchema validates events, as an agent sends them in a batch, against
// the published schema: what the agent really produces, not only the
// examples the schema's own tests build.
func checkSchema(t *testing.T, events []wire.Event) {
	t.Helper()
	sch, err := batchSchema()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range events {
		if e.Seq == 0 {
			e.Seq = uint64(i + 1)
		}
		b, err := json.Marshal(wire.Batch{V: wire.Version, Site: site, Cabin: cabin, Epoch: "e1", Events: []wire.Event{e}, AckRanges: true})
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("a %s event the agent produced does not validate against docs/schema: %v\n%s", e.Type, err, b)
		}
	}
}
