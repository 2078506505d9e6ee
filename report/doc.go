// Package report renders, keeps and serves Shoal's weekly HR report: HTML
// (one self-contained file with inline CSS and server-side SVG charts),
// Markdown and CSV, from a Data value: outcome cells that have already
// passed privacy.Apply, the data-quality counts of the week, the org's
// units and teams, k and the metric catalog.
//
// Rendering (Render) is pure: it opens no database, makes no network
// request and reads no clock (the report's "generated at" time is part of
// Data). The Service around it renders on demand at /reports/, writes the
// previous week's report on a Schedule into its directory (each file
// replaced atomically) and serves the files it kept; it gets Data from
// its caller and computes nothing itself. Fetch is the client side that
// `shoal report` uses.
//
// A cell's value is shown only when the cell is Visible and Defined; a cell
// the suppression policy withheld is named as rolled up or hidden, and its
// value never reaches any output, sentence, chart or axis. The report
// describes teams, units and the org, never a person: it has no person
// field to show. Names and ids come from the teams file and the events, so
// every format shows them as text: html/template escapes the HTML, mdText
// the Markdown and csvText neutralises spreadsheet formulas in the CSV.
package report
