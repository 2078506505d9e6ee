package metrics

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// textFormat is the exposition format Handler serves: Prometheus's text
// format 0.0.4, which every Prometheus version accepts.
const textFormat = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves /metrics: reg's families (pipeline health, agreements,
// Go runtime: a few hundred series) gathered and encoded per scrape, then
// the exporter's outcome families as encoded at its last Refresh. Encoding
// and compressing ~70k outcome series per scrape is what made a scrape of
// 2,000 teams cost ~280 ms (BenchmarkScrape). With gzip the response is two
// gzip members, which gzip readers (Prometheus's included) read as one
// stream.
func Handler(reg prometheus.Gatherer, e *Exporter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families, err := reg.Gather()
		if err != nil {
			http.Error(w, "gather metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		var live bytes.Buffer
		for _, mf := range families {
			if _, err := expfmt.MetricFamilyToText(&live, mf); err != nil {
				http.Error(w, "encode metrics: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		text, gz := e.Exposition()
		w.Header().Set("Content-Type", textFormat)
		if !acceptsGzip(r) {
			w.Write(live.Bytes())
			w.Write(text)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(live.Bytes())
		if err := zw.Close(); err != nil {
			return
		}
		w.Write(gz)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, _, _ := strings.Cut(strings.TrimSpace(part), ";"); enc == "gzip" {
			return true
		}
	}
	return false
}
