// Package output writes reports as JSON and YAML the same way everywhere:
// indented JSON, and YAML with the JSON field names.
package output

import (
	"encoding/json"
	"io"

	"sigs.k8s.io/yaml"
)

// JSON writes v as indented JSON.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// YAML writes v as YAML, with the field names of its JSON form.
func YAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
