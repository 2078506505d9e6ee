package transform

import (
	"context"
	"fmt"
)

// QualityDay is what the pipeline did with one day's events: how many it
// accepted (by team-local event day) and how many it refused, by reason
// (by the day the refusal was committed). It describes no person and no
// team, so it needs no suppression.
type QualityDay struct {
	Day      int32 // days since 1970-01-01
	Accepted int64
	Rejected map[string]int64 // by DLQ reason; nil when none
}

// Quality returns one QualityDay per day in [fromDay, toDay] that has
// accepted or rejected events, in day order.
func (s *Store) Quality(ctx context.Context, fromDay, toDay int32) ([]QualityDay, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT d, reason, CAST(n AS BIGINT) FROM (
			SELECT CAST(day - DATE '1970-01-01' AS INTEGER) AS d, '' AS reason, sum(events) AS n
			FROM team_day GROUP BY day
			UNION ALL
			SELECT CAST(day - DATE '1970-01-01' AS INTEGER), reason, sum(events) FROM rejections GROUP BY day, reason
		) WHERE d BETWEEN ? AND ? AND n > 0
		ORDER BY d, reason`, fromDay, toDay)
	if err != nil {
		return nil, fmt.Errorf("read data quality: %w", err)
	}
	defer rows.Close()
	var out []QualityDay
	for rows.Next() {
		var d int32
		var reason string
		var n int64
		if err := rows.Scan(&d, &reason, &n); err != nil {
			return nil, fmt.Errorf("read data quality: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Day != d {
			out = append(out, QualityDay{Day: d})
		}
		q := &out[len(out)-1]
		if reason == "" {
			q.Accepted = n
			continue
		}
		if q.Rejected == nil {
			q.Rejected = map[string]int64{}
		}
		q.Rejected[reason] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read data quality: %w", err)
	}
	return out, nil
}
