package privacy

import (
	"fmt"
	"testing"
)

// BenchmarkPseudonym measures pseudonymizing person ids: "cached" is the
// steady state (a population of 10k people seen again and again), "cold"
// computes HMAC-SHA256 for every call.
func BenchmarkPseudonym(b *testing.B) {
	key := make([]byte, MinKeyBytes)
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("person.%05d@acme.example", i)
	}
	b.Run("cached", func(b *testing.B) {
		p, _ := NewPseudonymizer(key)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if s := p.Pseudonym(ids[i%len(ids)]); !IsPseudonym(s) {
				b.Fatal(s)
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		p, _ := NewPseudonymizer(key)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if s := p.compute(ids[i%len(ids)]); !IsPseudonym(s) {
				b.Fatal(s)
			}
		}
	})
}

func TestPseudonymKeyed(t *testing.T) {
	a, _ := NewPseudonymizer([]byte("0123456789abcdef0123456789abcdef"))
	b, _ := NewPseudonymizer([]byte("fedcba9876543210fedcba9876543210"))
	x := a.Pseudonym(" Alice@X.org")
	if !IsPseudonym(x) || x != a.Pseudonym("alice@x.org") {
		t.Errorf("pseudonym %q: want the shape and case/space-insensitive equality", x)
	}
	if x == b.Pseudonym("alice@x.org") {
		t.Error("two keys gave the same pseudonym")
	}
	if a.Pseudonym("") != "" {
		t.Error("empty id must stay empty")
	}
	if _, err := NewPseudonymizer(make([]byte, MinKeyBytes-1)); err == nil {
		t.Error("short key accepted")
	}
}
