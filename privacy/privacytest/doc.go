// Package privacytest is for tests only, like net/http/httptest: it holds
// an oracle that checks, from outside, what package privacy publishes.
// No output of Shoal may call it.
//
// Determined tells which hidden cells a reader can compute from the
// published cells' equations (parent = Σ children, week = Σ days). It is
// independent of the solver privacy uses (exact Gauss-Jordan elimination
// over the integers, reading determined unknowns off the reduced row
// echelon form): it shares no code with privacy, does not import it, and
// uses a different method, the rank test rank([A; e_j]) = rank(A) over
// finite fields, with enough primes that the ranks are the rational ones.
package privacytest
