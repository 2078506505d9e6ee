package privacytest

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDetermined: Determined finds what a reader could compute, and only
// that.
func TestDetermined(t *testing.T) {
	tests := []struct {
		name string
		eqs  [][]int
		n    int
		want []int
	}{
		// parent (known) = a + b; a = known + y. Unknowns: 0=a, 1=b, 2=y.
		{"two equations in three unknowns", [][]int{{-1, 0, 1}, {0, -1, 2}}, 3, nil},
		// parent (known) = a + a visible sibling.
		{"parent minus visible sibling", [][]int{{-1, 0, -1}}, 1, []int{0}},
		// a + b known, and a = b.
		{"a+b and a=b", [][]int{{-1, 0, 1}, {0, 1}}, 2, []int{0, 1}},
		{"no equations", nil, 2, nil},
		{"no unknowns", [][]int{{-1, -1}}, 0, nil},
		// a + b, b + c, a + c known: 2a = (a+b) - (b+c) + (a+c).
		{"odd cycle", [][]int{{-1, 0, 1}, {-1, 1, 2}, {-1, 0, 2}}, 3, []int{0, 1, 2}},
		// a + b, b + c, c + d, d + a known: an even cycle solves none.
		{"even cycle", [][]int{{-1, 0, 1}, {-1, 1, 2}, {-1, 2, 3}, {-1, 3, 0}}, 4, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Determined(tc.eqs, tc.n); !slices.Equal(got, tc.want) {
				t.Errorf("Determined(%v, %d) = %v, want %v", tc.eqs, tc.n, got, tc.want)
			}
		})
	}
}

// TestDeterminedPrimes: a row that is zero modulo 2⁶¹-1 still determines
// its unknown; the bound asks for a second prime.
func TestDeterminedPrimes(t *testing.T) {
	const p = 1<<61 - 1
	if got := determined([][]int64{{p, 0}}, 2); !slices.Equal(got, []int{0}) {
		t.Errorf("p·x₀ known: determined %v, want [0]", got)
	}
	// x₀ + x₁ and p·x₀ + (p+1)·x₁: x₁ = (second) - p·(first).
	if got := determined([][]int64{{1, 1}, {p, p + 1}}, 2); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("determined %v, want [0 1]", got)
	}
	if got := determined([][]int64{{1, 1}, {p, p}}, 2); len(got) != 0 {
		t.Errorf("dependent rows: determined %v, want none", got)
	}
}

// TestDeterminedBruteForce checks Determined against a search of the
// kernel on small random systems: an unknown is not determined exactly
// when some x with Ax = 0 has x_j ≠ 0. With n ≤ 4 unknowns and entries in
// {-1, 0, 1}, the kernel has a basis (by Cramer's rule on at most 3
// independent rows) whose entries are 3×3 minors, at most 4 in absolute
// value, so searching [-4, 4]ⁿ is complete.
func TestDeterminedBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 1))
	for i := range 500 {
		n := 1 + r.IntN(4)
		var eqs [][]int
		for range r.IntN(6) {
			var eq []int
			for _, u := range r.Perm(n)[:1+r.IntN(n)] {
				if r.IntN(4) == 0 {
					u = -1
				}
				eq = append(eq, u)
			}
			if r.IntN(2) == 0 {
				eq = append(eq, -1) // a known child
			}
			eqs = append(eqs, eq)
		}
		free := make([]bool, n) // some kernel vector moves it
		x := make([]int, n)
		var search func(k int)
		search = func(k int) {
			if k < n {
				for v := -4; v <= 4; v++ {
					x[k] = v
					search(k + 1)
				}
				return
			}
			for _, eq := range eqs {
				s := 0
				for i, u := range eq {
					if u < 0 {
						continue
					}
					if i == 0 {
						s -= x[u]
					} else {
						s += x[u]
					}
				}
				if s != 0 {
					return
				}
			}
			for j, v := range x {
				free[j] = free[j] || v != 0
			}
		}
		search(0)
		var want []int
		for j, f := range free {
			if !f {
				want = append(want, j)
			}
		}
		if got := Determined(eqs, n); !slices.Equal(got, want) {
			t.Errorf("case %d: Determined(%v, %d) = %v, brute force %v", i, eqs, n, got, want)
		}
	}
}
