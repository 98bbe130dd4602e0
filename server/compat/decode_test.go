package compat

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantType string
		wantCode int
		wantMsg  string
		check    func(t *testing.T, d any)
	}{
		{"list without data", `{"request_type":"list"}`, TypeList, 0, "", nil},
		{"list ignores data", `{"request_type":"list","request_data":{"whatever":1}}`, TypeList, 0, "", nil},
		{"get", `{"request_type":"get","request_data":{"task_id":"abc"}}`, TypeGet, 0, "", func(t *testing.T, d any) {
			require.Equal(t, "abc", d.(*TaskIDRequest).TaskID)
		}},
		{"keys case-insensitive, unknown keys ignored", `{"request_type":"delete","request_data":{"TASK_ID":"x","Ignore_Not_Found":true,"extra":[1]}}`, TypeDelete, 0, "", func(t *testing.T, d any) {
			require.Equal(t, &DeleteRequest{TaskID: "x", IgnoreNotFound: true}, d.(*DeleteRequest))
		}},
		{"missing data is zero", `{"request_type":"pause"}`, TypePause, 0, "", func(t *testing.T, d any) {
			require.Equal(t, &TaskIDRequest{}, d.(*TaskIDRequest))
		}},
		{"null data is zero", `{"request_type":"resume","request_data":null}`, TypeResume, 0, "", nil},
		{"create", `{"request_type":"create","request_data":{"milvus_connect_param":{"uri":"http://t:19530","token":"root:Milvus","connect_timeout":10},"db_collections":{"*":[{"name":"*"}]},"name_mapping":[{"source_db":"a","target_db":"b","collection_mapping":{"x":"y"}}]}}`, TypeCreate, 0, "", func(t *testing.T, d any) {
			c := d.(*CreateRequest)
			require.Equal(t, "http://t:19530", c.MilvusConnectParam.URI)
			require.Equal(t, 10, c.MilvusConnectParam.ConnectTimeout)
			require.Equal(t, map[string][]CollectionInfo{"*": {{Name: "*"}}}, c.DBCollections)
			require.Equal(t, map[string]string{"x": "y"}, c.NameMapping[0].CollectionMapping)
		}},
		{"maintenance", `{"request_type":"maintenance","request_data":{"operation":"set_log_level","params":{"log_level":"warn"}}}`, TypeMaintenance, 0, "", func(t *testing.T, d any) {
			require.Equal(t, "warn", d.(*MaintenanceRequest).Params["log_level"])
		}},
		{"position", `{"request_type":"position","request_data":{"task_id":"p"}}`, TypePosition, 0, "", nil},

		{"not json", `{"request_type":`, "", 400, "fail to unmarshal the request, error: unexpected end of JSON input", nil},
		{"empty body", ``, "", 400, "fail to unmarshal the request, error: unexpected end of JSON input", nil},
		{"data not an object", `{"request_type":"get","request_data":"x"}`, "", 400, "fail to unmarshal the request, error: request_data must be a JSON object", nil},
		{"unknown type", `{"request_type":"explode"}`, "", 400, "invalid 'request_type' param, can be set [create delete pause resume get position list maintenance]", nil},
		{"missing type", `{}`, "", 400, "invalid 'request_type' param, can be set [create delete pause resume get position list maintenance]", nil},
		{"type mismatch", `{"request_type":"get","request_data":{"task_id":5}}`, "", 400, "fail to decode the get request, error: 'task_id' expected type 'string', got number", nil},
		{"bool mismatch", `{"request_type":"delete","request_data":{"ignore_not_found":"yes"}}`, "", 400, "fail to decode the delete request, error: 'ignore_not_found' expected type 'bool', got string", nil},
		{"nested mismatch", `{"request_type":"create","request_data":{"milvus_connect_param":{"connect_timeout":"10"}}}`, "", 400, "fail to decode the create request, error: 'milvus_connect_param.connect_timeout' expected type 'int', got string", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, bad := DecodeRequest([]byte(tt.body))
			if tt.wantCode != 0 {
				require.NotNil(t, bad)
				require.Equal(t, tt.wantCode, bad.Code)
				require.Equal(t, tt.wantMsg, bad.Message)
				require.Nil(t, bad.Data)
				return
			}
			require.Nil(t, bad, "unexpected error %+v", bad)
			require.Equal(t, tt.wantType, req.Type)
			if tt.check != nil {
				tt.check(t, req.Data)
			}
		})
	}
}

// FuzzDecodeRequest: whatever the body, the decoder returns either a known
// request type with typed data, or a 400/500 response with a message, and
// never panics.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"request_type":"list"}`,
		`{"request_type":"create","request_data":{"milvus_connect_param":{"uri":"http://t:19530"},"collection_infos":[{"name":"*","positions":{"a_1v0":"AAA="}}]}}`,
		`{"request_type":"delete","request_data":{"task_id":"x","ignore_not_found":true}}`,
		`{"request_type":"maintenance","request_data":{"operation":"set_log_level","params":{"log_level":"debug"}}}`,
		`{"request_type":"get","request_data":[1,2]}`,
		`[]`, `null`, `"x"`, `{"request_type":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, bad := DecodeRequest(body)
		if bad != nil {
			if bad.Code != 400 && bad.Code != 500 {
				t.Fatalf("unexpected code %d", bad.Code)
			}
			if bad.Message == "" || bad.Data != nil {
				t.Fatalf("error response without message or with data: %+v", bad)
			}
			return
		}
		if !slices.Contains(RequestTypes, req.Type) {
			t.Fatalf("decoded unknown request type %q", req.Type)
		}
		if req.Data == nil {
			t.Fatalf("request %q decoded without data", req.Type)
		}
	})
}
