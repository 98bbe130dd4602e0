package kafkatest

import (
	"bytes"
	"fmt"
	"os"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EventSchema is the JSON Schema of the change events (the file
// docs/kafka-sink.schema.json), compiled.
type EventSchema struct{ s *jsonschema.Schema }

// LoadEventSchema compiles the JSON Schema at path.
func LoadEventSchema(path string) (*EventSchema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(path, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(path)
	if err != nil {
		return nil, err
	}
	return &EventSchema{s: s}, nil
}

// Check validates one event (a record's value) against the schema.
func (e *EventSchema) Check(value []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := e.s.Validate(v); err != nil {
		return fmt.Errorf("%s: %w", value, err)
	}
	return nil
}
