package main

import (
	"github.com/shoal-analytics/shoal/agreements"
	"github.com/shoal-analytics/shoal/metrics"
)

// exportedAgreements turns the teams file in force into what the
// agreements collector exports: k and the listed teams' own promises.
func exportedAgreements(org *agreements.Org) metrics.Agreements {
	teams := org.Teams()
	out := metrics.Agreements{MinGroupSize: org.MinGroupSize(), Teams: make([]metrics.TeamAgreement, len(teams))}
	for i, a := range teams {
		out.Teams[i] = metrics.TeamAgreement{Team: a.Team, Unit: a.Unit,
			ResponseSLA: a.ResponseSLA, FocusBlockMin: a.FocusBlockMin, OverworkPerDay: a.OverworkPerDay}
	}
	return out
}
