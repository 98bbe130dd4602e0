// Package strictjson finds what encoding/json accepts silently in a request
// body: a key given twice in one object (the last one wins) and strings that
// are not valid UTF-8 (replaced by U+FFFD). Both make the daemon act on
// something other than what the client meant, so the APIs refuse them with
// the path of the offending key before decoding.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error names the offending key by its path in the body, e.g.
// scope[0].database, and says what is wrong with it.
type Error struct {
	// Path is the key's path: object keys joined by '.', array indexes in
	// brackets; empty for the top-level value.
	Path string
	// Message is the problem and the fix, naming the path.
	Message string
}

func (e *Error) Error() string { return e.Message }

// Check walks body and returns an *Error for the first duplicate key or
// invalid UTF-8 string (keys included). t is the Go type the body decodes
// into: keys of a struct are compared case-insensitively, as encoding/json
// matches them to fields, keys of a map exactly; nil compares exactly
// everywhere; a json.RawMessage value is skipped. Syntax errors are not reported (the decoder reports them
// better): Check returns nil for a body that is not JSON.
func Check(body []byte, t reflect.Type) error { return CheckAt(body, t, "") }

// CheckAt is Check for a body that sits at path inside a larger document
// (e.g. "request_data"); reported paths start with it.
func CheckAt(body []byte, t reflect.Type, path string) error {
	w := &walker{raw: body, dec: json.NewDecoder(bytes.NewReader(body))}
	w.dec.UseNumber()
	err := w.value(t, path)
	if e, ok := err.(*Error); ok {
		return e
	}
	return nil
}

type walker struct {
	raw []byte
	dec *json.Decoder
}

// errStop ends the walk on a syntax error, which the decoder reports.
var errStop = fmt.Errorf("not JSON")

// token returns the next token and the raw bytes it came from (with the
// separators before it, which are ASCII).
func (w *walker) token() (json.Token, []byte, error) {
	start := w.dec.InputOffset()
	tok, err := w.dec.Token()
	if err != nil {
		return nil, nil, errStop
	}
	return tok, w.raw[start:w.dec.InputOffset()], nil
}

// rawMessage values are left to whoever decodes them later (and checks
// them then, with their own type).
var rawMessage = reflect.TypeOf(json.RawMessage{})

func (w *walker) value(t reflect.Type, path string) error {
	if t == rawMessage {
		var skip json.RawMessage
		if w.dec.Decode(&skip) != nil {
			return errStop
		}
		return nil
	}
	tok, raw, err := w.token()
	if err != nil {
		return err
	}
	return w.after(tok, raw, t, path)
}

func (w *walker) after(tok json.Token, raw []byte, t reflect.Type, path string) error {
	t = deref(t)
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return w.object(t, path)
		case '[':
			return w.array(t, path)
		}
		return errStop
	case string:
		if !validString(v, raw) {
			return &Error{Path: path, Message: fmt.Sprintf("%s is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)", describe(path))}
		}
	}
	return nil
}

func (w *walker) object(t reflect.Type, path string) error {
	seen := map[string]string{} // comparison form -> key as sent
	foldKeys := t != nil && t.Kind() == reflect.Struct
	for w.dec.More() {
		tok, raw, err := w.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errStop
		}
		if !validString(key, raw) {
			return &Error{Path: path, Message: fmt.Sprintf("a key in %s is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)", where(path))}
		}
		keyPath := join(path, key)
		cmp := key
		if foldKeys {
			cmp = strings.ToLower(key)
		}
		if first, dup := seen[cmp]; dup {
			msg := fmt.Sprintf("the key %q appears twice in %s; send it once (otherwise only the last one would count)", key, where(path))
			if first != key {
				msg = fmt.Sprintf("the keys %q and %q in %s name the same field (keys match case-insensitively); send it once (otherwise only the last one would count)", first, key, where(path))
			}
			return &Error{Path: keyPath, Message: msg}
		}
		seen[cmp] = key
		if err := w.value(memberType(t, key), keyPath); err != nil {
			return err
		}
	}
	_, _, err := w.token() // '}'
	return err
}

func (w *walker) array(t reflect.Type, path string) error {
	var elem reflect.Type
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		elem = t.Elem()
	}
	for i := 0; w.dec.More(); i++ {
		if err := w.value(elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
			return err
		}
	}
	_, _, err := w.token() // ']'
	return err
}

// validString reports whether the JSON string was valid UTF-8 as sent.
// encoding/json replaces invalid bytes and lone surrogate escapes (\udc00)
// by U+FFFD; a U+FFFD that the body spelt out itself is fine.
func validString(decoded string, raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	if !strings.ContainsRune(decoded, utf8.RuneError) {
		return true
	}
	spelt := strings.Count(strings.ToLower(string(raw)), `\ufffd`) + strings.Count(string(raw), "\uFFFD")
	return spelt >= strings.Count(decoded, "\uFFFD")
}

// memberType is the type of the field or map value a key decodes into, nil
// when unknown (an unknown field, an interface).
func memberType(t reflect.Type, key string) reflect.Type {
	if t == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem()
	case reflect.Struct:
		return fieldType(t, key)
	}
	return nil
}

// fieldType finds the struct field encoding/json would decode key into:
// the json name (or the Go name) compared case-insensitively, embedded
// structs included.
func fieldType(t reflect.Type, key string) reflect.Type {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if ft := deref(f.Type); ft.Kind() == reflect.Struct {
				if inner := fieldType(ft, key); inner != nil {
					return inner
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return f.Type
		}
	}
	return nil
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func where(path string) string {
	if path == "" {
		return "the request body"
	}
	return fmt.Sprintf("%q", path)
}

func describe(path string) string {
	if path == "" {
		return "the body"
	}
	return fmt.Sprintf("the value of %q", path)
}
