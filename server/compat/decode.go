package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/milvus-cdc/milvus-cdc/internal/strictjson"
)

// envelope is the outer request object.
type envelope struct {
	RequestType string          `json:"request_type"`
	RequestData json.RawMessage `json:"request_data"`
}

// Request is a decoded /cdc request: Type plus the typed request_data
// (*CreateRequest, *DeleteRequest, *TaskIDRequest, *ListRequest or
// *MaintenanceRequest).
type Request struct {
	Type string
	Data any
}

// DecodeRequest parses a /cdc body. On failure it returns the milvus-cdc
// error response with milvus-cdc's message. The code is 400 for every
// decoding failure (malformed JSON, request_data that is not an object or
// has a field of the wrong type, an unknown request_type): milvus-cdc
// answers the first ones with 500, but they are the client's to fix, and its
// clients tell failures by code != 200 alone. Like milvus-cdc it matches keys
// case-insensitively, ignores unknown keys and treats a missing request_data
// as all-zero values. It never panics, whatever the input.
func DecodeRequest(body []byte) (Request, *Response) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Request{}, &Response{Code: 400, Message: fmt.Sprintf("fail to unmarshal the request, error: %v", err)}
	}
	// encoding/json lets the last of two equal keys win and turns bytes that
	// are not UTF-8 into U+FFFD; milvus-cdc's clients never send either, and
	// acting on it would act on something not meant.
	if err := strictjson.Check(body, reflect.TypeOf(envelope{})); err != nil {
		return Request{}, &Response{Code: 400, Message: fmt.Sprintf("fail to unmarshal the request, error: %v", err)}
	}
	if !isObjectOrAbsent(env.RequestData) {
		return Request{}, &Response{Code: 400, Message: "fail to unmarshal the request, error: request_data must be a JSON object"}
	}
	var data any
	switch env.RequestType {
	case TypeCreate:
		data = &CreateRequest{}
	case TypeDelete:
		data = &DeleteRequest{}
	case TypePause, TypeResume, TypeGet, TypePosition:
		data = &TaskIDRequest{}
	case TypeList:
		return Request{Type: TypeList, Data: &ListRequest{}}, nil // request_data is ignored
	case TypeMaintenance:
		data = &MaintenanceRequest{}
	default:
		return Request{}, &Response{Code: 400, Message: fmt.Sprintf("invalid 'request_type' param, can be set [%s]", strings.Join(RequestTypes, " "))}
	}
	if len(env.RequestData) > 0 && !bytes.Equal(bytes.TrimSpace(env.RequestData), []byte("null")) {
		if err := strictjson.CheckAt(env.RequestData, reflect.TypeOf(data), "request_data"); err != nil {
			return Request{}, &Response{Code: 400, Message: fmt.Sprintf("fail to decode the %s request, error: %v", env.RequestType, err)}
		}
		if err := json.Unmarshal(env.RequestData, data); err != nil {
			return Request{}, &Response{Code: 400, Message: fmt.Sprintf("fail to decode the %s request, error: %v", env.RequestType, describeDecodeError(err))}
		}
	}
	return Request{Type: env.RequestType, Data: data}, nil
}

func isObjectOrAbsent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null")) || t[0] == '{'
}

// describeDecodeError names the field of a type mismatch in JSON terms.
func describeDecodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("'%s' expected type '%s', got %s", te.Field, te.Type, te.Value)
	}
	return err
}
