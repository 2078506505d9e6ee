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
//
// It also turns task and request ids into keyed ids (TaskID, RequestID),
// so that a store does not join back to the tracker without the key.
type Pseudonymizer struct {
	pool sync.Pool // of hash.Hash

	mu    sync.RWMutex
	cache map[string]string
	max   int

	tasks, requests, entries *idHasher
}

// NewPseudonymizer returns a Pseudonymizer for key, which must be at least
// MinKeyBytes long.
func NewPseudonymizer(key []byte) (*Pseudonymizer, error) {
	if len(key) < MinKeyBytes {
		return nil, fmt.Errorf("%w: key is %d bytes, need at least %d (generate one with: head -c 32 /dev/urandom > shoal.key)", ErrKeyFile, len(key), MinKeyBytes)
	}
	k := append([]byte(nil), key...)
	return &Pseudonymizer{
		pool:     sync.Pool{New: func() any { return hmac.New(sha256.New, k) }},
		cache:    make(map[string]string),
		max:      1 << 20,
		tasks:    newIDHasher(k, taskIDDomain, TaskIDPrefix),
		requests: newIDHasher(k, requestIDDomain, RequestIDPrefix),
		entries:  newIDHasher(k, entryIDDomain, EntryIDPrefix),
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
	for _, c := range []byte(s[len(PseudonymPrefix):]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Prefixes of keyed task, request and time-entry ids, so one is
// recognisable in data.
const (
	TaskIDPrefix    = "t_"
	RequestIDPrefix = "r_"
	EntryIDPrefix   = "e_"
)

// keyedIDBytes is how many bytes of the HMAC a keyed id keeps (128 bits:
// ids collide with a chance that does not matter at any tracker's size).
const keyedIDBytes = 16

// The domains from which the task and request id keys are derived. They
// start with a NUL byte, which no person id can hold (the decoder refuses
// control characters), so no pseudonym is ever the HMAC that made a key.
const (
	taskIDDomain    = "\x00shoal task id key v1"
	requestIDDomain = "\x00shoal request id key v1"
	entryIDDomain   = "\x00shoal time entry id key v1"
)

// TaskID returns the keyed id of a raw task id: "t_" + the first 16 bytes
// of HMAC-SHA256 in hex, under a key derived from the pseudonym key for
// task ids only (a task id and a person id of the same text hash apart).
// The raw id is used as it is, case and spaces included: the same id
// always gives the same keyed id. Empty stays empty.
func (p *Pseudonymizer) TaskID(raw []byte) string { return p.tasks.hash(raw) }

// RequestID is TaskID for request ids ("r_", a key of their own).
func (p *Pseudonymizer) RequestID(raw []byte) string { return p.requests.hash(raw) }

// EntryID is TaskID for time-entry ids ("e_", a key of their own).
func (p *Pseudonymizer) EntryID(raw []byte) string { return p.entries.hash(raw) }

// IsKeyedID reports whether s has the shape of a keyed id with prefix.
func IsKeyedID(s, prefix string) bool {
	if len(s) != len(prefix)+2*keyedIDBytes || !strings.HasPrefix(s, prefix) {
		return false
	}
	_, err := hex.DecodeString(s[len(prefix):])
	return err == nil
}

// idHasher computes one kind of keyed id, with a bounded cache (a task's
// id comes back with each of its events).
type idHasher struct {
	prefix string
	pool   sync.Pool // of hash.Hash

	mu    sync.RWMutex
	cache map[string]string
	max   int
}

func newIDHasher(key []byte, domain, prefix string) *idHasher {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(domain))
	sub := m.Sum(nil)
	return &idHasher{
		prefix: prefix,
		pool:   sync.Pool{New: func() any { return hmac.New(sha256.New, sub) }},
		cache:  make(map[string]string),
		max:    idCacheSize,
	}
}

// idCacheSize bounds each keyed-id cache: a task's events come close
// together, so a small cache catches most repeats, and there are many
// more tasks than people.
const idCacheSize = 1 << 16

func (h *idHasher) hash(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	h.mu.RLock()
	s, ok := h.cache[string(raw)]
	h.mu.RUnlock()
	if ok {
		return s
	}
	m := h.pool.Get().(hash.Hash)
	m.Reset()
	m.Write(raw)
	var sum [sha256.Size]byte
	out := m.Sum(sum[:0])
	h.pool.Put(m)
	s = h.prefix + hex.EncodeToString(out[:keyedIDBytes])
	h.mu.Lock()
	if len(h.cache) >= h.max {
		clear(h.cache)
	}
	h.cache[string(raw)] = s
	h.mu.Unlock()
	return s
}
