package intake

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// verifyHMAC checks a hex HMAC-SHA256 of body under secret, given as
// header value with an optional prefix ("sha256="), in constant time.
func verifyHMAC(value, prefix string, body, secret []byte) error {
	if value == "" {
		return fmt.Errorf("%w: no signature header", ErrBadSignature)
	}
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(value), prefix)
	if !ok {
		return fmt.Errorf("%w: the signature does not start with %q", ErrBadSignature, prefix)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return fmt.Errorf("%w: the signature is not hex", ErrBadSignature)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return fmt.Errorf("%w: the signature does not match the body", ErrBadSignature)
	}
	return nil
}

// verifyToken compares a token header to secret in constant time.
func verifyToken(value string, secret []byte) error {
	if value == "" {
		return fmt.Errorf("%w: no token", ErrBadSignature)
	}
	// Compare digests, so that the comparison's time does not depend on
	// the lengths either.
	a, b := sha256.Sum256([]byte(value)), sha256.Sum256(secret)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return fmt.Errorf("%w: the token does not match", ErrBadSignature)
	}
	return nil
}

// decode unmarshals a payload, wrapping a failure in ErrMalformed without
// quoting the payload.
func decode(body []byte, v any, what string) error {
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: %s: field %s is not a %s", ErrMalformed, what, te.Field, te.Type)
		}
		return fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, what)
	}
	return nil
}
