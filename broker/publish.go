package broker

import (
	"context"
	"fmt"

	"github.com/segmentio/kafka-go"
)

// Publish sends msgs to topic in chunks with an acks=all writer; kv gives
// a message's key and value (synth.Message.KeyValue, say). It calls
// progress (when not nil) with the number sent after each chunk.
func Publish[M any](ctx context.Context, brokers []string, topic string, msgs []M, kv func(M) (key, value []byte), progress func(sent int)) error {
	w := NewWriter(brokers, topic)
	defer w.Close()
	const chunk = 5000
	batch := make([]kafka.Message, 0, chunk)
	for i := 0; i < len(msgs); i += chunk {
		batch = batch[:0]
		for _, m := range msgs[i:min(i+chunk, len(msgs))] {
			k, v := kv(m)
			batch = append(batch, kafka.Message{Key: k, Value: v})
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("publish to %s after %d of %d events: %w", topic, i, len(msgs), SummarizeWriteError(err))
		}
		if progress != nil {
			progress(i + len(batch))
		}
	}
	return nil
}
