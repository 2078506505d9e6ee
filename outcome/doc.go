// Package outcome is the leaf vocabulary of Shoal's output leg: the metric
// Catalog (the one definition every output uses), the Level of a cell in
// the org → unit → team tree, and the Cell, one aggregate value of one
// metric for one team, unit or the org over one period.
//
// It imports nothing of Shoal's and nothing outside the standard library,
// so the dashboards build from it alone. It never describes a person: a
// Cell is an aggregate, and whether it may be shown is decided only by the
// privacy package.
package outcome
