package schema

import _ "embed"

// Events is events.schema.json: the JSON Schema of one Shoal event.
//
//go:embed events.schema.json
var Events []byte
