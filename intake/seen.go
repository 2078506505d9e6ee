package intake

import (
	"container/list"
	"sync"
)

// seen remembers the most recent accepted deliveries (a bounded LRU of
// digests), so that a source's retry of a delivery already produced is
// answered without producing it again. Forgetting one is harmless: the
// same delivery maps to the same event ids, which the pipeline dedups.
type seen struct {
	mu    sync.Mutex
	max   int
	order *list.List // of [32]byte, most recent first
	items map[[32]byte]*list.Element
}

func newSeen(max int) *seen {
	return &seen{max: max, order: list.New(), items: make(map[[32]byte]*list.Element, max)}
}

// has reports whether k was added recently, marking it as recent.
func (s *seen) has(k [32]byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[k]
	if ok {
		s.order.MoveToFront(e)
	}
	return ok
}

func (s *seen) add(k [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.items[k]; ok {
		s.order.MoveToFront(e)
		return
	}
	s.items[k] = s.order.PushFront(k)
	for s.order.Len() > s.max {
		old := s.order.Back()
		s.order.Remove(old)
		delete(s.items, old.Value.([32]byte))
	}
}
