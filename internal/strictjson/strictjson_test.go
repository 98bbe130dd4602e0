package strictjson

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

type inner struct {
	Database string            `json:"database"`
	Names    map[string]string `json:"names,omitempty"`
}

type body struct {
	Target struct {
		URI string `json:"uri"`
	} `json:"target"`
	Scope []inner            `json:"scope"`
	DBs   map[string][]inner `json:"dbs"`
	Any   any                `json:"any"`
	Ptr   *inner             `json:"ptr"`
	Raw   json.RawMessage    `json:"raw"`
}

func TestCheck(t *testing.T) {
	typ := reflect.TypeOf(body{})
	tests := []struct {
		name     string
		body     string
		wantPath string
		wantMsg  string
	}{
		{"clean", `{"target":{"uri":"http://t:1"},"scope":[{"database":"d\u00e9j\u00e0","names":{"a":"b","A":"c"}}]}`, "", ""},
		{"U+FFFD spelt out is fine", `{"scope":[{"database":"x\ufffd"}]}`, "", ""},
		{"U+FFFD as UTF-8 bytes is fine", "{\"scope\":[{\"database\":\"x\xef\xbf\xbd\"}]}", "", ""},
		{"not JSON is the decoder's to report", `{"target":`, "", ""},
		{"duplicate top-level key", `{"target":{"uri":"a"},"target":{"uri":"b"}}`, "target",
			`the key "target" appears twice in the request body; send it once (otherwise only the last one would count)`},
		{"struct keys fold case", `{"target":{"uri":"a"},"Target":{"uri":"b"}}`, "Target",
			`the keys "target" and "Target" in the request body name the same field (keys match case-insensitively); send it once (otherwise only the last one would count)`},
		{"nested duplicate", `{"scope":[{"database":"a"},{"database":"a","database":"b"}]}`, "scope[1].database",
			`the key "database" appears twice in "scope[1]"; send it once (otherwise only the last one would count)`},
		{"raw values are left for later", `{"raw":{"k":1,"k":2},"target":{"uri":"a"}}`, "", ""},
		{"after a raw value the walk goes on", `{"raw":[1],"target":{"uri":"a"},"target":{}}`, "target",
			`the key "target" appears twice in the request body; send it once (otherwise only the last one would count)`},
		{"map keys are exact", `{"dbs":{"db1":[],"DB1":[]}}`, "", ""},
		{"duplicate map key", `{"dbs":{"db1":[],"db1":[]}}`, "dbs.db1",
			`the key "db1" appears twice in "dbs"; send it once (otherwise only the last one would count)`},
		{"duplicate under an interface", `{"any":{"k":1,"k":2}}`, "any.k",
			`the key "k" appears twice in "any"; send it once (otherwise only the last one would count)`},
		{"duplicate behind a pointer", `{"ptr":{"database":"a","DATABASE":"b"}}`, "ptr.DATABASE",
			`the keys "database" and "DATABASE" in "ptr" name the same field (keys match case-insensitively); send it once (otherwise only the last one would count)`},
		{"invalid UTF-8 in a name", "{\"scope\":[{\"database\":\"db\xff1\"}]}", "scope[0].database",
			`the value of "scope[0].database" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{"lone surrogate escape", `{"scope":[{"database":"db\udc001"}]}`, "scope[0].database",
			`the value of "scope[0].database" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{"invalid UTF-8 in a map key", "{\"dbs\":{\"d\xc3\":[]}}", "dbs",
			`a key in "dbs" is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
		{"invalid UTF-8 top-level string", "\"\xff\"", "",
			`the body is not valid UTF-8 text; send it as UTF-8 (JSON strings must be UTF-8)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]byte(tt.body), typ)
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.wantPath, e.Path)
			require.Equal(t, tt.wantMsg, e.Message)
		})
	}
}

// FuzzCheck: Check never panics, and a JSON body with bytes that are not
// UTF-8 (which can only sit inside strings) is always refused.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(`{"target":{"uri":"a"},"scope":[{"database":"x"}]}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = Check(b, reflect.TypeOf(body{}))
		err := Check(b, nil)
		if json.Valid(b) && !utf8.Valid(b) {
			require.Error(t, err, "%q", b)
		}
	})
}
