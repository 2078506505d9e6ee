package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoal-analytics/shoal/app/apptest"
)

// TestRetentionWarning: against an external Kafka whose event topic keeps
// records for ever, Shoal says so at startup, with the command that bounds
// it; with a week's retention it says nothing.
func TestRetentionWarning(t *testing.T) {
	org, _ := apptest.SmallOrg()
	for _, tc := range []struct {
		retention string
		warn      bool
	}{{"-1", true}, {"604800000", false}} {
		addr := apptest.StartKafka(t, "shoal.events", "shoal.dlq")
		client := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
		res, err := client.AlterConfigs(context.Background(), &kafka.AlterConfigsRequest{Resources: []kafka.AlterConfigRequestResource{{
			ResourceType: kafka.ResourceTypeTopic, ResourceName: "shoal.events", Configs: []kafka.AlterConfigRequestConfig{{Name: "retention.ms", Value: tc.retention}},
		}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Errors {
			if e != nil {
				t.Fatal(e)
			}
		}
		logs := &apptest.SyncBuffer{}
		_, stop := testPipeline(t, addr, t.TempDir(), org, logs)
		stop()
		warned := strings.Contains(string(logs.Bytes()), "the event topic keeps raw events for ever") &&
			strings.Contains(string(logs.Bytes()), "retention.ms=604800000")
		if warned != tc.warn {
			t.Errorf("retention.ms %s: warned %v, want %v:\n%s", tc.retention, warned, tc.warn, grepLines(string(logs.Bytes()), "retention"))
		}
	}
}
