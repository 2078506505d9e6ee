package privacytest

import (
	"math/big"
	"math/bits"
)

// Determined returns, in increasing order, the unknowns 0..n-1 whose value
// the equations fix. Each equation says parent = Σ children over its
// entries: entry 0 is the parent, the others its children, and an entry
// of -1 is a known cell (visible, or hidden with nobody behind it). As a
// row over the unknowns it has -1 for the parent and +1 for each child.
// An unknown j is determined when the unit vector e_j is in the rows'
// span, that is when rank([A; e_j]) = rank(A).
func Determined(eqs [][]int, n int) []int {
	if n == 0 {
		return nil
	}
	return determined(Rows(eqs, n), n)
}

// Rows turns equations in Determined's form into integer rows over the n
// unknowns: -1 for the parent, +1 for each child among the unknowns
// (equations with no unknown are left out). Tests hand the same rows to
// the solver they check.
func Rows(eqs [][]int, n int) [][]int64 {
	var rows [][]int64
	for _, eq := range eqs {
		r := make([]int64, n)
		nonzero := false
		for i, u := range eq {
			if u < 0 {
				continue
			}
			if i == 0 {
				r[u]--
			} else {
				r[u]++
			}
			nonzero = true
		}
		if nonzero {
			rows = append(rows, r)
		}
	}
	return rows
}

// determined is Determined over integer rows.
//
// The ranks are computed modulo primes. Modulo a prime p the rank of an
// integer matrix is at most its rational rank r, and smaller only when p
// divides every non-zero r×r minor. By Hadamard's inequality every minor
// of [A; e_j] is at most H = Π ‖aᵢ‖ (the product of A's row norms; ‖e_j‖
// = 1) in absolute value, so when the primes' product exceeds H no
// non-zero minor is divisible by all of them: the largest rank modulo
// the primes is the rational rank, both of A and of each [A; e_j].
func determined(rows [][]int64, n int) []int {
	// H² = Π ‖aᵢ‖², exactly.
	h2 := big.NewInt(1)
	for _, r := range rows {
		var s, sq big.Int
		for _, v := range r {
			x := big.NewInt(v)
			s.Add(&s, sq.Mul(x, x))
		}
		if s.Sign() > 0 {
			h2.Mul(h2, &s)
		}
	}
	rank := 0                  // the rational rank of A
	withUnit := make([]int, n) // the rational rank of [A; e_j]
	prod := big.NewInt(1)
	for p := range primes() {
		rp, in := ranks(rows, n, p)
		rank = max(rank, rp)
		for j := range n {
			rj := rp
			if !in[j] {
				rj++
			}
			withUnit[j] = max(withUnit[j], rj)
		}
		prod.Mul(prod, new(big.Int).SetUint64(p))
		if new(big.Int).Mul(prod, prod).Cmp(h2) > 0 {
			break
		}
	}
	var out []int
	for j := range n {
		if withUnit[j] == rank {
			out = append(out, j)
		}
	}
	return out
}

// primes yields the primes below 2⁶¹ from the largest down (2⁶¹-1 first).
// big.Int.ProbablyPrime is exact below 2⁶⁴.
func primes() func(yield func(uint64) bool) {
	return func(yield func(uint64) bool) {
		for p := uint64(1)<<61 - 1; p > 2; p -= 2 {
			if new(big.Int).SetUint64(p).ProbablyPrime(0) && !yield(p) {
				return
			}
		}
	}
}

// ranks returns the rank of rows over GF(p) and, for each unknown j,
// whether e_j is in their span there: whether it still reduces to zero
// against the echelon basis the rows built (rank([A; e_j]) = rank(A)).
func ranks(rows [][]int64, n int, p uint64) (int, []bool) {
	mul := func(a, b uint64) uint64 {
		hi, lo := bits.Mul64(a, b)
		return bits.Rem64(hi, lo, p)
	}
	inv := func(a uint64) uint64 { // a^(p-2)
		res := uint64(1)
		for e := p - 2; e > 0; e >>= 1 {
			if e&1 == 1 {
				res = mul(res, a)
			}
			a = mul(a, a)
		}
		return res
	}
	// basis[c], when set, is a row whose first non-zero entry is a 1 at c.
	basis := make([][]uint64, n)
	// reduce eliminates v against the basis in column order; it returns
	// the first column left non-zero, or -1 when v is in the span.
	reduce := func(v []uint64) int {
		for c := range n {
			if v[c] == 0 {
				continue
			}
			b := basis[c]
			if b == nil {
				return c
			}
			f := p - v[c]
			for k := c; k < n; k++ {
				if b[k] != 0 {
					v[k] = (v[k] + mul(f, b[k])) % p
				}
			}
		}
		return -1
	}
	rank := 0
	for _, r := range rows {
		v := make([]uint64, n)
		for k, x := range r {
			if x >= 0 {
				v[k] = uint64(x) % p
			} else {
				v[k] = (p - uint64(-x)%p) % p
			}
		}
		c := reduce(v)
		if c < 0 {
			continue
		}
		s := inv(v[c])
		for k := c; k < n; k++ {
			v[k] = mul(v[k], s)
		}
		basis[c] = v
		rank++
	}
	in := make([]bool, n)
	for j := range n {
		v := make([]uint64, n)
		v[j] = 1
		in[j] = reduce(v) < 0
	}
	return rank, in
}
