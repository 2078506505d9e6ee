package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"strings"
)

// Format is an output format of the report.
type Format string

// The formats, named by their file extension.
const (
	HTML     Format = "html"
	Markdown Format = "md"
	CSV      Format = "csv"
)

// Formats are every format, in the order reports are written.
var Formats = []Format{HTML, Markdown, CSV}

// ErrFormat is returned (wrapped) for an unknown format.
var ErrFormat = errors.New("format")

// ParseFormat accepts html, md (or markdown) and csv.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "html", "htm":
		return HTML, nil
	case "md", "markdown":
		return Markdown, nil
	case "csv":
		return CSV, nil
	}
	return "", fmt.Errorf("%w %q: use html, md or csv", ErrFormat, s)
}

// ContentType is the media type to serve the format with.
func (f Format) ContentType() string {
	switch f {
	case HTML:
		return "text/html; charset=utf-8"
	case Markdown:
		return "text/markdown; charset=utf-8"
	default:
		return "text/csv; charset=utf-8"
	}
}

// FileName is the report's file name for week: 2026-W47.html.
func FileName(w Week, f Format) string { return w.String() + "." + string(f) }

// Render writes the report of d in format f.
func Render(w io.Writer, d Data, f Format) error {
	var text func(string) string // html/template escapes the HTML; the CSV shows ids only (csvText)
	if f == Markdown {
		text = mdText
	}
	b, err := newBuilder(d, text)
	if err != nil {
		return err
	}
	v := b.build()
	var buf bytes.Buffer
	switch f {
	case HTML:
		err = htmlTemplate.Execute(&buf, v)
	case Markdown:
		err = writeMarkdown(&buf, v)
	case CSV:
		err = writeCSV(&buf, b)
	default:
		return fmt.Errorf("%w %q: use html, md or csv", ErrFormat, f)
	}
	if err != nil {
		return fmt.Errorf("render %s report: %w", f, err)
	}
	_, err = buf.WriteTo(w)
	return err
}

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	// svg marks a chart drawn by chartSVG (gonum/plot output with only
	// escaped text of ours in it) as safe to inline.
	"svg":            func(s string) template.HTML { return template.HTML(s) },
	"neverCollected": func() string { return NeverCollected },
}).Parse(htmlSource))
