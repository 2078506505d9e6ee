package sql

// maxConnections is the most client connections the endpoint holds at
// once (netutil.LimitListener); further clients wait in the listen
// backlog until one closes.
const maxConnections = 64
