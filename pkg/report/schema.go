package report

import (
	_ "embed"
	"slices"
)

//go:embed schema/report.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema (draft 2020-12) of the JSON report of
// this SchemaVersion, both kinds: the file schema/report.schema.json of
// this package. The package's tests validate generated reports against it
// and fail when it and the Go types drift apart.
func Schema() []byte { return slices.Clone(schemaJSON) }
