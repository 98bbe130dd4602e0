package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Masked is what MaskedYAML shows instead of a secret that is set.
const Masked = "********"

// MaskedYAML renders the configuration as YAML, keys in the order and with
// the names of configs/cdc.yaml, durations with their unit, and every field
// tagged secret:"true" (passwords, auth parameters) replaced by Masked when
// set; secret:"afterLastColon" masks only what follows the last colon
// ("name:role:token" shows name and role). It is what --print-config prints: the effective configuration after
// file, environment and defaults, safe to paste into a ticket.
func (c Config) MaskedYAML() ([]byte, error) {
	node, err := yamlNode(reflect.ValueOf(c), "")
	if err != nil {
		return nil, err
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{node}}
	var b strings.Builder
	b.WriteString("# milvus-cdc effective configuration (file + MILVUS_CDC_* environment + defaults); secrets masked\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("render the configuration: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render the configuration: %w", err)
	}
	return []byte(b.String()), nil
}

func yamlNode(v reflect.Value, secret string) (*yaml.Node, error) {
	if d, ok := v.Interface().(time.Duration); ok {
		return scalar(d.String(), "!!str"), nil
	}
	switch v.Kind() {
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		if err := addFields(m, v); err != nil {
			return nil, err
		}
		return m, nil
	case reflect.Slice:
		seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i := 0; i < v.Len(); i++ {
			n, err := yamlNode(v.Index(i), secret)
			if err != nil {
				return nil, err
			}
			seq.Content = append(seq.Content, n)
		}
		return seq, nil
	case reflect.String:
		return scalar(mask(v.String(), secret), "!!str"), nil
	case reflect.Bool:
		return scalar(strconv.FormatBool(v.Bool()), "!!bool"), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return scalar(strconv.FormatInt(v.Int(), 10), "!!int"), nil
	}
	return nil, fmt.Errorf("render the configuration: no YAML form for a %s", v.Kind())
}

// addFields adds a struct's fields to a mapping, inlining ",squash" ones.
func addFields(m *yaml.Node, v reflect.Value) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if opts == "squash" {
			if err := addFields(m, v.Field(i)); err != nil {
				return err
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		n, err := yamlNode(v.Field(i), f.Tag.Get("secret"))
		if err != nil {
			return err
		}
		m.Content = append(m.Content, scalar(name, "!!str"), n)
	}
	return nil
}

// mask hides a secret value as its secret tag says.
func mask(s, secret string) string {
	switch {
	case s == "" || secret == "":
		return s
	case secret == "afterLastColon":
		if i := strings.LastIndex(s, ":"); i >= 0 {
			return s[:i+1] + Masked
		}
	}
	return Masked
}

func scalar(value, tag string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: value, Tag: tag}
}
