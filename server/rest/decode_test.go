package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/milvus-cdc/milvus-cdc/api"
	"github.com/milvus-cdc/milvus-cdc/server/task"
)

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		code  task.Code
		field string
	}{
		{"ok", `{"target":{"uri":"http://t:1"},"scope":[{"database":"*","collection":"*"}]}`, "", ""},
		{"empty", "  ", task.CodeBadRequest, ""},
		{"array", `[]`, task.CodeBadRequest, ""},
		{"unknown nested field", `{"target":{"url":"x"}}`, task.CodeBadRequest, "url"},
		{"wrong type nested", `{"scope":[{"database":1}]}`, task.CodeBadRequest, "scope.database"},
		{"two objects", `{}{}`, task.CodeBadRequest, ""},
		{"too large", `{"id":"` + strings.Repeat("a", 200) + `"}`, task.CodeRequestTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req api.CreateTaskRequest
			r := http.MaxBytesReader(httptest.NewRecorder(), ioNopCloser(tt.body), 100)
			err := DecodeStrict(r, &req)
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, "http://t:1", req.Target.URI)
				return
			}
			e := task.AsError(err)
			require.Equal(t, tt.code, e.Code, e.Message)
			require.Equal(t, tt.field, e.Field)
			require.NotEmpty(t, e.Message)
		})
	}
}

// FuzzDecodeStrict: any body either decodes or yields a bad_request /
// request_too_large error with a message; nothing panics.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		`{"target":{"uri":"http://t:1","token":"a:b"},"scope":[{"database":"*","collection":"*","positions":{"a_1v0":"AA=="}}]}`,
		`{"id":"x","nameMapping":[{"sourceDatabase":"a","collections":{"b":"c"}}]}`,
		`{"target":5}`, `{"x":1}`, `{} []`, ``, `null`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.CreateTaskRequest
		r := http.MaxBytesReader(httptest.NewRecorder(), ioNopCloser(string(body)), 512)
		err := DecodeStrict(r, &req)
		if err == nil {
			return
		}
		e := task.AsError(err)
		if e.Code != task.CodeBadRequest && e.Code != task.CodeRequestTooLarge {
			t.Fatalf("unexpected code %s: %s", e.Code, e.Message)
		}
		if e.Message == "" {
			t.Fatal("error without message")
		}
	})
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func ioNopCloser(s string) nopCloser { return nopCloser{strings.NewReader(s)} }
