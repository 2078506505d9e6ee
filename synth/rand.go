package synth

import (
	"math"
	"math/bits"
)

// rng is a PCG-DXSM style generator with its own derivation of ints and
// floats, so the output of a seed does not depend on math/rand's choice
// of algorithms.
type rng struct{ hi, lo uint64 }

func newRNG(seed int64, stream uint64) *rng {
	r := &rng{hi: uint64(seed) ^ 0x9e3779b97f4a7c15, lo: stream*0xbf58476d1ce4e5b9 + 1}
	for range 4 {
		r.uint64()
	}
	return r
}

// uint64 is one step of PCG (128-bit LCG state, DXSM output).
func (r *rng) uint64() uint64 {
	const (
		mulHi = 2549297995355413924
		mulLo = 4865540595714422341
		incHi = 6364136223846793005
		incLo = 1442695040888963407
	)
	hi, lo := bits.Mul64(r.lo, mulLo)
	hi += r.hi*mulLo + r.lo*mulHi
	lo, c := bits.Add64(lo, incLo, 0)
	hi, _ = bits.Add64(hi, incHi, c)
	r.lo, r.hi = lo, hi
	const cheap = 0xda942042e4dd58b5
	hi ^= hi >> 32
	hi *= cheap
	hi ^= hi >> 48
	hi *= lo | 1
	return hi
}

// intn returns a number in [0, n); n must be > 0.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.uint64(), uint64(n))
	return int(hi)
}

// rangeInt returns a number in [lo, hi].
func (r *rng) rangeInt(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	h, _ := bits.Mul64(r.uint64(), uint64(hi-lo+1))
	return lo + int64(h)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.uint64()>>11) * (1.0 / (1 << 53)) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// norm returns a standard normal deviate (Box-Muller).
func (r *rng) norm() float64 {
	u := 1 - r.float() // (0, 1]
	v := r.float()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// poisson returns a Poisson deviate with mean m (Knuth; m is small here).
func (r *rng) poisson(m float64) int {
	if m <= 0 {
		return 0
	}
	if m > 30 {
		n := int(math.Round(m + math.Sqrt(m)*r.norm()))
		return max(n, 0)
	}
	l := math.Exp(-m)
	k, p := 0, 1.0
	for {
		p *= r.float()
		if p <= l {
			return k
		}
		k++
	}
}

// pick returns an index chosen with the given weights.
func (r *rng) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.intn(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
