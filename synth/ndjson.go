package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// WriteNDJSON writes one message value per line. Keys and Bad are not
// written: ReadNDJSON recovers the key from the value.
func WriteNDJSON(w io.Writer, msgs []Message) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i, m := range msgs {
		if bytes.IndexByte(m.Value, '\n') >= 0 {
			return fmt.Errorf("write ndjson: message %d contains a newline", i)
		}
		bw.Write(m.Value)
		if err := bw.WriteByte('\n'); err != nil {
			return fmt.Errorf("write ndjson: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write ndjson: %w", err)
	}
	return nil
}

// ReadNDJSON reads messages written by WriteNDJSON (or by hand): each
// non-empty line is a Value, kept byte for byte without its line ending,
// however malformed. Key is data.team when the line is a JSON object with
// a string data.team, as Generate sets it; Bad is left empty. Lines may be
// of any length.
func ReadNDJSON(r io.Reader) ([]Message, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var msgs []Message
	for {
		line, err := br.ReadBytes('\n')
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) > 0 {
			msgs = append(msgs, Message{Key: TeamKey(line), Value: line})
		}
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, fmt.Errorf("read ndjson: %w", err)
		}
	}
}

var (
	dataTeam = []byte(`"data":{"team":"`)
	dataKey  = []byte(`"data":`)
	teamName = []byte(`"team":`)
)

// TeamKey returns data.team of an event, the Kafka message key that keeps
// one team's events in order on one partition, or nil if there is none.
func TeamKey(v []byte) []byte {
	if !json.Valid(v) {
		return nil
	}
	// Fast path for the usual shape. In valid JSON a quote inside a string
	// is escaped, so these patterns occur only as structure: one "data"
	// key, preceded by the one opening brace (top level), whose first
	// member is the only "team" key, an unescaped string.
	if i := bytes.Index(v, dataTeam); i > 0 && bytes.Count(v, dataKey) == 1 && bytes.Count(v, teamName) == 1 &&
		bytes.Count(v[:i], []byte("{")) == 1 {
		rest := v[i+len(dataTeam):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 && bytes.IndexByte(rest[:j], '\\') < 0 {
			return bytes.Clone(rest[:j])
		}
	}
	var probe struct {
		Data struct {
			Team *string `json:"team"`
		} `json:"data"`
	}
	if json.Unmarshal(v, &probe) != nil || probe.Data.Team == nil {
		return nil
	}
	return []byte(*probe.Data.Team)
}
