//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/milvus-io/milvus-sdk-go/v2/client"
	"github.com/milvus-io/milvus-sdk-go/v2/entity"
)

// maxListedDiffs bounds the differences one report lists.
const maxListedDiffs = 10

// CollectionDiff is what differs between a collection on the source and on the
// target. Empty() means the two are the same.
type CollectionDiff struct {
	Source, Target string // collection names
	Schema         []string
	SourceCount    int64
	TargetCount    int64
	MissingOnTgt   []string // primary keys present only on the source
	ExtraOnTgt     []string // primary keys present only on the target
	Values         []string // "pk field: source=... target=..."
}

// Empty reports whether nothing differs.
func (d *CollectionDiff) Empty() bool {
	return len(d.Schema) == 0 && d.SourceCount == d.TargetCount &&
		len(d.MissingOnTgt) == 0 && len(d.ExtraOnTgt) == 0 && len(d.Values) == 0
}

func (d *CollectionDiff) String() string {
	if d.Empty() {
		return fmt.Sprintf("%s (source) and %s (target) are the same: %d rows", d.Source, d.Target, d.SourceCount)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (source) and %s (target) differ:", d.Source, d.Target)
	for _, s := range d.Schema {
		fmt.Fprintf(&b, "\n  schema: %s", s)
	}
	if d.SourceCount != d.TargetCount {
		fmt.Fprintf(&b, "\n  row count: source=%d target=%d", d.SourceCount, d.TargetCount)
	}
	list := func(what string, items []string) {
		if len(items) == 0 {
			return
		}
		shown := items[:min(len(items), maxListedDiffs)]
		fmt.Fprintf(&b, "\n  %s (%d): %s", what, len(items), strings.Join(shown, ", "))
		if len(items) > len(shown) {
			b.WriteString(", ...")
		}
	}
	list("missing on target", d.MissingOnTgt)
	list("extra on target", d.ExtraOnTgt)
	list("different values", d.Values)
	return b.String()
}

// CompareCollections compares collection srcName on src with dstName on dst:
// schema, count(*), and every field value (vectors and dynamic fields included)
// row by row, matched by primary key. Both collections must be loaded (see
// EnsureLoaded); reads use strong consistency.
func CompareCollections(ctx context.Context, src, dst client.Client, srcName, dstName string) (*CollectionDiff, error) {
	d := &CollectionDiff{Source: srcName, Target: dstName}
	sc, err := src.DescribeCollection(ctx, srcName)
	if err != nil {
		return nil, fmt.Errorf("source: describe %s: %w", srcName, err)
	}
	tc, err := dst.DescribeCollection(ctx, dstName)
	if err != nil {
		return nil, fmt.Errorf("target: describe %s: %w", dstName, err)
	}
	d.Schema = CompareSchemas(sc.Schema, tc.Schema)
	if d.SourceCount, err = CountRows(ctx, src, srcName); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if d.TargetCount, err = CountRows(ctx, dst, dstName); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	srcRows, err := QueryAllRows(ctx, src, srcName)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstRows, err := QueryAllRows(ctx, dst, dstName)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	d.MissingOnTgt, d.ExtraOnTgt, d.Values = CompareRows(srcRows, dstRows)
	return d, nil
}

// RequireSameCollection fails the test unless the two collections are the same
// (see CompareCollections).
func RequireSameCollection(t testing.TB, ctx context.Context, src, dst client.Client, srcName, dstName string) {
	t.Helper()
	d, err := CompareCollections(ctx, src, dst, srcName, dstName)
	if err != nil {
		t.Fatalf("compare %s with %s: %v", srcName, dstName, err)
	}
	if !d.Empty() {
		t.Fatal(d.String())
	}
}

// SameCollection is a Condition for Eventually: the target has caught up with the
// source (same schema, rows and values).
func SameCollection(src, dst client.Client, srcName, dstName string) Condition {
	return func(ctx context.Context) (bool, string, error) {
		d, err := CompareCollections(ctx, src, dst, srcName, dstName)
		if err != nil {
			return false, "", err
		}
		return d.Empty(), d.String(), nil
	}
}

// CompareSchemas lists the differences between two schemas: collection-level
// flags, the field list and order, and every field attribute a user sets (type,
// element type, type params such as dim/max_length/max_capacity, primary key,
// auto id, partition key, dynamic). Server-assigned field IDs are ignored.
func CompareSchemas(a, b *entity.Schema) []string {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	if a.AutoID != b.AutoID {
		add("autoID: source=%v target=%v", a.AutoID, b.AutoID)
	}
	if a.EnableDynamicField != b.EnableDynamicField {
		add("enableDynamicField: source=%v target=%v", a.EnableDynamicField, b.EnableDynamicField)
	}
	if a.Description != b.Description {
		add("description: source=%q target=%q", a.Description, b.Description)
	}
	names := func(s *entity.Schema) []string {
		out := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			out[i] = f.Name
		}
		return out
	}
	if an, bn := names(a), names(b); !slices.Equal(an, bn) {
		add("fields: source=%v target=%v", an, bn)
	}
	byName := map[string]*entity.Field{}
	for _, f := range b.Fields {
		byName[f.Name] = f
	}
	for _, fa := range a.Fields {
		fb, ok := byName[fa.Name]
		if !ok {
			continue // reported by the field list
		}
		fieldDiff := func(attr string, x, y any) {
			add("field %s %s: source=%v target=%v", fa.Name, attr, x, y)
		}
		if fa.DataType != fb.DataType {
			fieldDiff("type", fa.DataType.Name(), fb.DataType.Name())
		}
		if fa.ElementType != fb.ElementType {
			fieldDiff("element type", fa.ElementType.Name(), fb.ElementType.Name())
		}
		if fa.PrimaryKey != fb.PrimaryKey {
			fieldDiff("primary key", fa.PrimaryKey, fb.PrimaryKey)
		}
		if fa.AutoID != fb.AutoID {
			fieldDiff("autoID", fa.AutoID, fb.AutoID)
		}
		if fa.IsPartitionKey != fb.IsPartitionKey {
			fieldDiff("partition key", fa.IsPartitionKey, fb.IsPartitionKey)
		}
		if fa.IsDynamic != fb.IsDynamic {
			fieldDiff("dynamic", fa.IsDynamic, fb.IsDynamic)
		}
		if fa.Description != fb.Description {
			fieldDiff("description", fa.Description, fb.Description)
		}
		if !maps.Equal(fa.TypeParams, fb.TypeParams) {
			fieldDiff("type params", fa.TypeParams, fb.TypeParams)
		}
	}
	return diffs
}

// CompareRows matches rows by primary key and lists keys missing on the target,
// extra on the target, and fields whose values differ.
func CompareRows(src, dst map[string]Row) (missing, extra, values []string) {
	for _, pk := range sortedKeys(src) {
		tr, ok := dst[pk]
		if !ok {
			missing = append(missing, pk)
			continue
		}
		sr := src[pk]
		for _, field := range sortedKeys(sr) {
			tv, ok := tr[field]
			switch {
			case !ok:
				values = append(values, fmt.Sprintf("pk %s field %s: absent on target", pk, field))
			case tv != sr[field]:
				values = append(values, fmt.Sprintf("pk %s field %s: source=%s target=%s", pk, field, clip(sr[field]), clip(tv)))
			}
		}
		for _, field := range sortedKeys(tr) {
			if _, ok := sr[field]; !ok {
				values = append(values, fmt.Sprintf("pk %s field %s: absent on source", pk, field))
			}
		}
	}
	for _, pk := range sortedKeys(dst) {
		if _, ok := src[pk]; !ok {
			extra = append(extra, pk)
		}
	}
	return missing, extra, values
}

// normalizeValue turns a column value into a comparable string: canonical JSON
// (sorted keys, numbers kept as written) for JSON fields, hex for binary vectors,
// Go's shortest exact formatting for everything else (floats compare bit-exact).
func normalizeValue(col entity.Column, v any) (string, error) {
	switch col.Type() {
	case entity.FieldTypeJSON:
		b, ok := v.([]byte)
		if !ok {
			return "", fmt.Errorf("JSON value of type %T", v)
		}
		return canonicalJSON(b)
	case entity.FieldTypeBinaryVector:
		b, ok := v.([]byte)
		if !ok {
			return "", fmt.Errorf("binary vector of type %T", v)
		}
		return hex.EncodeToString(b), nil
	}
	switch x := v.(type) {
	case [][]byte: // VarChar arrays
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmt.Sprintf("%q", p)
		}
		return "[" + strings.Join(parts, " ") + "]", nil
	case []byte:
		return fmt.Sprintf("%q", x), nil
	case string:
		return fmt.Sprintf("%q", x), nil
	}
	return fmt.Sprintf("%v", v), nil
}

func canonicalJSON(b []byte) (string, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return "", nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("invalid JSON %q: %w", clip(string(b)), err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
