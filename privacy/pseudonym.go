package privacy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"strings"
	"sync"
)

// MinKeyBytes is the shortest pseudonym key accepted (256 bits).
const MinKeyBytes = 32

// PseudonymPrefix starts every pseudonym, so one is recognisable in data.
const PseudonymPrefix = "p_"

// ErrKeyFile is returned (wrapped) for a missing, unreadable or too short key file.
var ErrKeyFile = errors.New("pseudonym key file")

// Pseudonymizer turns raw person identifiers (emails, tool user ids) into
// keyed pseudonyms: "p_" + the first 12 bytes of HMAC-SHA256(key, id) in hex.
// Without the key, a pseudonym cannot be recomputed from a list of emails.
// Identifiers are trimmed and lower-cased first, so "Alice@X.org " and
// "alice@x.org" are the same person. Safe for concurrent use.
type Pseudonymizer struct {
	pool sync.Pool // of hash.Hash

	mu    sync.RWMutex
	cache map[string]string
	max   int
}

// NewPseudonymizer returns a Pseudonymizer for key, which must be at least
// MinKeyBytes long.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, need at least %d (generate one with: head -c 32 /dev/urandom > shoal.key)", ErrKeyFile, len(key), MinKeyBytes)
	}
	k := append([]byte(nil), key...)
	return &Pseudonymizer{
		pool:  sync.Pool{New: func() any { return hmac.New(sha256.New, k) }},
		cache: make(map[string]string),
		max:   1 << 20,
	}, nil
}

// LoadKeyFile reads a pseudonym key from path. Surrounding whitespace is
// kept as key material except a single trailing newline when at least
// MinKeyBytes remain without it, so a key written with echo works and a
// random 32-byte key that happens to end in '\n' keeps all its bytes.
func LoadKeyFile(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given; pass --pseudonym-key-file (create one with: head -c 32 /dev/urandom > shoal.key)", ErrKeyFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (create one with: head -c 32 /dev/urandom > %s)", ErrKeyFile, err, path)
	}
	// A key written with echo ends in a newline that is not key material;
	// one from `head -c 32 /dev/urandom` ends in '\n' once in 256 files, and
	// there the byte is key material: drop it only if enough bytes remain.
	if trimmed := bytes.TrimSuffix(b, []byte("\n")); len(trimmed) >= MinKeyBytes {
		b = trimmed
	}
	if len(b) < MinKeyBytes {
		return nil, fmt.Errorf("%w %s: key is %d bytes, need at least %d (create one with: head -c 32 /dev/urandom > %s)", ErrKeyFile, path, len(b), MinKeyBytes, path)
	}
	return b, nil
}

// Pseudonym returns the pseudonym of a raw identifier. The empty string
// maps to the empty string (absent).
func (p *Pseudonymizer) Pseudonym(raw string) string {
	if raw == "" {
		return ""
	}
	p.mu.RLock()
	s, ok := p.cache[raw]
	p.mu.RUnlock()
	if ok {
		return s
	}
	s = p.compute(raw)
	p.mu.Lock()
	if len(p.cache) >= p.max {
		clear(p.cache) // bounded memory; recomputing is cheap
	}
	p.cache[raw] = s
	p.mu.Unlock()
	return s
}

func (p *Pseudonymizer) compute(raw string) string {
	h := p.pool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(strings.ToLower(strings.TrimSpace(raw))))
	var sum [sha256.Size]byte
	out := h.Sum(sum[:0])
	p.pool.Put(h)
	return PseudonymPrefix + hex.EncodeToString(out[:12])
}

// IsPseudonym reports whether s has the shape of a pseudonym.
func IsPseudonym(s string) bool {
	if len(s) != len(PseudonymPrefix)+24 || !strings.HasPrefix(s, PseudonymPrefix) {
		return false
	}
	_, err := hex.DecodeString(s[len(PseudonymPrefix):])
	return err == nil
}
