// Package keyring seals small secrets with AES-256-GCM under named keys read
// from a key file, so that stored secrets can move to a new key: the file's
// first key seals, every key in it opens.
//
// Key file: one "id:base64-of-32-bytes" a line, the active key first; blank
// lines and lines starting with # are ignored. Generate a key with
//
//	echo "k1:$(head -c 32 /dev/urandom | base64)" > cdc.key
package keyring

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)

// ErrUnknownKey means a sealed value names a key id the key file lacks.
var ErrUnknownKey = errors.New("sealed with a key that is not in the key file")

// Keyring holds the keys of one key file.
type Keyring struct {
	active string
	aeads  map[string]cipher.AEAD
	order  []string
}

// Sealed is one encrypted value: the id of the key that sealed it, the
// random nonce, and the ciphertext with its GCM tag.
type Sealed struct {
	KeyID      string `json:"kid"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ct"`
}

// Load reads a key file. Errors name the line, never a key.
func Load(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the key file %s: %w", path, err)
	}
	return Parse(data)
}

// Parse reads the key file format from data.
func Parse(data []byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d is not id:base64-key", n)
		}
		if !keyIDPattern.MatchString(id) {
			return nil, fmt.Errorf("line %d: key id %q is invalid; use up to 32 letters, digits, '.', '_' or '-'", n, id)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("line %d: key id %s appears twice", n, id)
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("line %d: key %s is not base64", n, id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("line %d: key %s is %d bytes; use %d random bytes (head -c 32 /dev/urandom | base64)", n, id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %s: %w", n, id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("line %d: key %s: %w", n, id, err)
		}
		if k.active == "" {
			k.active = id
		}
		k.aeads[id] = aead
		k.order = append(k.order, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if k.active == "" {
		return nil, errors.New("the key file holds no key; add a line id:base64-of-32-bytes")
	}
	return k, nil
}

// ActiveKeyID is the id of the key that seals (the file's first).
func (k *Keyring) ActiveKeyID() string { return k.active }

// KeyIDs lists every key id, active first.
func (k *Keyring) KeyIDs() []string { return append([]string(nil), k.order...) }

// Seal encrypts plaintext with the active key and a fresh random nonce;
// aad (e.g. the record's key) is authenticated but not stored, so a sealed
// value copied to another record does not open there.
func (k *Keyring) Seal(plaintext, aad []byte) (Sealed, error) {
	aead := k.aeads[k.active]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("random nonce: %w", err)
	}
	return Sealed{KeyID: k.active, Nonce: nonce, Ciphertext: aead.Seal(nil, nonce, plaintext, aad)}, nil
}

// Open decrypts a sealed value with the key it names.
func (k *Keyring) Open(s Sealed, aad []byte) ([]byte, error) {
	aead, ok := k.aeads[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("key id %q: %w", s.KeyID, ErrUnknownKey)
	}
	if len(s.Nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("sealed value with key %s has a %d-byte nonce, want %d", s.KeyID, len(s.Nonce), aead.NonceSize())
	}
	pt, err := aead.Open(nil, s.Nonce, s.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("sealed value with key %s does not open (wrong key or altered data): %w", s.KeyID, err)
	}
	return pt, nil
}
