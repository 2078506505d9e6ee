package event

// The event types Shoal accepts. Anything else is refused.
const (
	TaskCreated       = "work.task.created"
	TaskStarted       = "work.task.started"
	TaskCompleted     = "work.task.completed"
	TaskBlocked       = "work.task.blocked"
	TaskUnblocked     = "work.task.unblocked"
	TaskReopened      = "work.task.reopened"
	TaskCancelled     = "work.task.cancelled"
	TimeLogged        = "work.time.logged"
	TimeDeleted       = "work.time.deleted"
	RequestOpened     = "work.request.opened"
	RequestResponded  = "work.request.responded"
	SpecVersion       = "1.0"
	MaxTeamLen        = 128
	MaxIdentifierLen  = 256
	DefaultMaxEventSz = 64 << 10
)

// Types lists every accepted event type, in contract order.
var Types = []string{
	TaskCreated, TaskStarted, TaskCompleted, TaskBlocked, TaskUnblocked,
	TaskReopened, TaskCancelled, TimeLogged, RequestOpened, RequestResponded,
	TimeDeleted,
}

// Categories lists the accepted time-entry categories (work.time.logged data.category).
var Categories = []string{"focus", "meeting", "collaboration", "support", "admin", "learning", "other"}

// TaskKinds lists the accepted task kinds (work.task.created data.kind).
var TaskKinds = []string{"feature", "bug", "chore", "other"}

// RequestKinds lists the accepted request kinds (work.request.opened data.kind).
var RequestKinds = []string{"review", "question", "handoff"}
