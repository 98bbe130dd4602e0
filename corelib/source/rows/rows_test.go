package rows

import (
	"errors"
	"testing"

	"github.com/milvus-io/milvus-proto/go-api/v2/commonpb"
	"github.com/milvus-io/milvus-proto/go-api/v2/schemapb"
	"github.com/stretchr/testify/require"
)

func TestKeysRoundTripAndRenderAsLiterals(t *testing.T) {
	tests := []struct {
		key     Key
		pk      schemapb.DataType
		stored  string
		literal string
	}{
		{Key{Int: -42}, schemapb.DataType_Int64, "-42", "-42"},
		{Key{Int: 9_000_000_000}, schemapb.DataType_Int64, "9000000000", "9000000000"},
		{Key{Str: "plain", IsStr: true}, schemapb.DataType_VarChar, "plain", `"plain"`},
		{Key{Str: `a"b\c`, IsStr: true}, schemapb.DataType_VarChar, `a"b\c`, `"a\"b\\c"`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.stored, tt.key.String())
		back, err := ParseKey(tt.stored, tt.pk)
		require.NoError(t, err)
		require.Equal(t, tt.key, back)
		require.Equal(t, tt.literal, literal(tt.key))
	}
	_, err := ParseKey("abc", schemapb.DataType_Int64)
	require.ErrorContains(t, err, `stored key "abc" is not an int64`)
}

func TestQueryRefusalsAreClassified(t *testing.T) {
	tab := Table{Collection: "c"}
	tests := []struct {
		name string
		st   *commonpb.Status
		want error
	}{
		{"success", &commonpb.Status{}, nil},
		{"released", &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 101, Reason: "collection not loaded"}, ErrNotLoaded},
		{"dropped", &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 100, Reason: "collection not found[collection=c]"}, ErrGone},
		{"partition dropped", &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 200, Reason: "partition not found"}, ErrGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check(tab, tt.st, nil)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
	err := check(tab, &commonpb.Status{ErrorCode: commonpb.ErrorCode_UnexpectedError, Code: 65535, Reason: "boom"}, nil)
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrGone) || errors.Is(err, ErrNotLoaded))
	require.ErrorContains(t, err, "code 65535")
}
