package transform

import (
	"context"
	"fmt"

	"github.com/shoal-analytics/shoal/outcome"
)

// Quality returns one outcome.QualityDay per day in [fromDay, toDay] that has
// accepted or rejected events, in day order.
func (s *Store) Quality(ctx context.Context, fromDay, toDay int32) ([]outcome.QualityDay, error) {
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	defer s.readLock()()
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
	var out []outcome.QualityDay
	for rows.Next() {
		var d int32
		var reason string
		var n int64
		if err := rows.Scan(&d, &reason, &n); err != nil {
			return nil, fmt.Errorf("read data quality: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Day != d {
			out = append(out, outcome.QualityDay{Day: d})
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
