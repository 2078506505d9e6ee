package transform

import (
	"context"
	"fmt"
	"strings"
)

// DistinctPeople counts the distinct contributors (pseudonyms) across the
// given teams over days [fromDay, toDay]: the People of a unit or org cell,
// which is not the sum of its teams' counts when people work in several.
func (s *Store) DistinctPeople(ctx context.Context, teams []string, fromDay, toDay int32) (int, error) {
	if err := s.flush(ctx); err != nil {
		return 0, err
	}
	defer s.readLock()()
	const sep = "\x1f"
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(DISTINCT person) FROM team_day_people
		WHERE day BETWEEN DATE '1970-01-01' + CAST(? AS INTEGER) AND DATE '1970-01-01' + CAST(? AS INTEGER)
		AND list_contains(string_split(?, '`+sep+`'), team)`, fromDay, toDay, strings.Join(teams, sep)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count distinct people of %d teams: %w", len(teams), err)
	}
	return n, nil
}
