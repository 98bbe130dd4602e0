package keyring

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func key(b byte) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat(string(rune(b)), KeySize)))
}

func TestParse(t *testing.T) {
	k, err := Parse([]byte("# keys\n\nk2:" + key('b') + "\nk1:" + key('a') + "\n"))
	require.NoError(t, err)
	require.Equal(t, "k2", k.ActiveKeyID(), "the first key seals")
	require.Equal(t, []string{"k2", "k1"}, k.KeyIDs())

	tests := []struct{ name, file, want string }{
		{"empty", "# none\n", "holds no key"},
		{"no colon", "k1" + key('a'), "line 1 is not id:base64-key"},
		{"bad id", "k 1:" + key('a'), `line 1: key id "k 1" is invalid`},
		{"not base64", "k1:!!!", "line 1: key k1 is not base64"},
		{"short", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "line 1: key k1 is 5 bytes; use 32"},
		{"duplicate", "k1:" + key('a') + "\nk1:" + key('b'), "line 2: key id k1 appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.file))
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), key('a'), "an error never quotes a key")
		})
	}
}

func TestSealOpen(t *testing.T) {
	old, err := Parse([]byte("k1:" + key('a')))
	require.NoError(t, err)
	rotated, err := Parse([]byte("k2:" + key('b') + "\nk1:" + key('a')))
	require.NoError(t, err)

	s1, err := old.Seal([]byte("secret"), []byte("task a"))
	require.NoError(t, err)
	s2, err := old.Seal([]byte("secret"), []byte("task a"))
	require.NoError(t, err)
	require.NotEqual(t, s1.Nonce, s2.Nonce, "a fresh nonce every time")
	require.NotContains(t, string(s1.Ciphertext), "secret")

	pt, err := rotated.Open(s1, []byte("task a"))
	require.NoError(t, err, "a rotated key file still opens the old key's values")
	require.Equal(t, "secret", string(pt))
	s3, err := rotated.Seal([]byte("secret"), []byte("task a"))
	require.NoError(t, err)
	require.Equal(t, "k2", s3.KeyID)
	_, err = old.Open(s3, []byte("task a"))
	require.ErrorIs(t, err, ErrUnknownKey)

	_, err = old.Open(s1, []byte("task b"))
	require.ErrorContains(t, err, "does not open", "bound to its record")
	s1.Ciphertext[0] ^= 1
	_, err = old.Open(s1, []byte("task a"))
	require.ErrorContains(t, err, "does not open", "altered data")
	s1.Nonce = s1.Nonce[:3]
	_, err = old.Open(s1, []byte("task a"))
	require.ErrorContains(t, err, "nonce")
}
