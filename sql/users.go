package sql

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Password hashes are PBKDF2-HMAC-SHA256 (Go's standard library, no new
// dependency) with a random 16-byte salt:
//
//	pbkdf2-sha256$<iterations>$<salt, base64>$<32-byte key, base64>
const (
	hashScheme = "pbkdf2-sha256"
	// hashIterations is what HashPassword uses (OWASP's 2023 advice for
	// PBKDF2-HMAC-SHA256).
	hashIterations = 600000
	minIterations  = 100000
)

// ErrBadUsers is returned (wrapped) for an unreadable or malformed users file.
var ErrBadUsers = errors.New("bad sql users file")

var userNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,62}$`)

// Users maps a user name to its password hash.
type Users map[string]passwordHash

type passwordHash struct {
	iterations int
	salt, key  []byte
}

// HashPassword returns the users-file hash of password.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, hashIterations, 32)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("%s$%d$%s$%s", hashScheme, hashIterations, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

func parseHash(s string) (passwordHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 4 || parts[0] != hashScheme {
		return passwordHash{}, fmt.Errorf("the hash must look like %s$<iterations>$<salt>$<key>", hashScheme)
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < minIterations {
		return passwordHash{}, fmt.Errorf("iterations %q: use at least %d", parts[1], minIterations)
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[2])
	key, err2 := enc.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) != 32 {
		return passwordHash{}, errors.New("salt or key is not valid base64 of the right length")
	}
	return passwordHash{iterations: n, salt: salt, key: key}, nil
}

// LoadUsers reads a users file: one "name:hash" line per user; blank lines
// and lines starting with # are ignored. Errors name the line.
func LoadUsers(path string) (Users, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadUsers, err)
	}
	users := Users{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || !userNameRE.MatchString(name) {
			return nil, fmt.Errorf("%w: %s line %d: want name:hash with a name of letters, digits, _ . - (make a line with `shoal sql --hash-password NAME`)", ErrBadUsers, path, n)
		}
		if _, dup := users[name]; dup {
			return nil, fmt.Errorf("%w: %s line %d: user %s is listed twice", ErrBadUsers, path, n, name)
		}
		h, err := parseHash(hash)
		if err != nil {
			return nil, fmt.Errorf("%w: %s line %d (user %s): %w (make a line with `shoal sql --hash-password %s`)", ErrBadUsers, path, n, name, err, name)
		}
		users[name] = h
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%w: %s lists no users (make a line with `shoal sql --hash-password NAME`)", ErrBadUsers, path)
	}
	return users, nil
}

// dummy is checked for unknown users so that the time taken does not say
// whether a user exists.
var dummy = passwordHash{iterations: hashIterations, salt: make([]byte, 16), key: make([]byte, 32)}

// Check reports whether password is user's.
func (u Users) Check(user, password string) bool {
	h, ok := u[user]
	if !ok {
		h = dummy
	}
	key, err := pbkdf2.Key(sha256.New, password, h.salt, h.iterations, len(h.key))
	return err == nil && subtle.ConstantTimeCompare(key, h.key) == 1 && ok
}
