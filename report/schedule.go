package report

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Schedule is when `shoal run` writes the weekly report of the previous
// ISO week into DATA_DIR/reports (the --report-* flags).
type Schedule struct {
	// ReportWeekday is the day the report is written. Default: Monday
	ReportWeekday string `yaml:"report_weekday"`
	// ReportTime is the time of day (HH:MM, 24-hour) it is written. Default: 06:00
	ReportTime string `yaml:"report_time"`
	// ReportTimezone is the IANA zone of ReportWeekday and ReportTime.
	// Default: the org's time zone (the teams file's defaults; UTC without one)
	ReportTimezone string `yaml:"report_timezone"`
}

// DefaultSchedule is Monday at 06:00 in the org's time zone.
func DefaultSchedule() Schedule {
	return Schedule{ReportWeekday: "Monday", ReportTime: "06:00"}
}

// RegisterFlags registers the --report-* flags.
func (r *Schedule) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&r.ReportWeekday, "report-weekday", r.ReportWeekday, "weekday on which the weekly report of the previous ISO week is written to DATA_DIR/reports")
	fs.StringVar(&r.ReportTime, "report-time", r.ReportTime, "time of day (HH:MM, 24-hour) at which the weekly report is written")
	fs.StringVar(&r.ReportTimezone, "report-timezone", r.ReportTimezone, "IANA time zone of --report-weekday and --report-time (empty: the org's time zone from the teams file, else UTC)")
}

// schedule is a validated Schedule.
type schedule struct {
	weekday      time.Weekday
	hour, minute int
	loc          *time.Location // nil: the org's zone at the time
}

var weekdays = map[string]time.Weekday{
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

var hhmm = regexp.MustCompile(`^([01]?\d|2[0-3]):([0-5]\d)$`)

func (r Schedule) parse() (schedule, error) {
	var s schedule
	var errs []error
	wd, ok := weekdays[strings.ToLower(strings.TrimSpace(r.ReportWeekday))]
	if !ok {
		errs = append(errs, fmt.Errorf("report-weekday %q: use a weekday name such as Monday or Mon", r.ReportWeekday))
	}
	s.weekday = wd
	if m := hhmm.FindStringSubmatch(strings.TrimSpace(r.ReportTime)); m == nil {
		errs = append(errs, fmt.Errorf("report-time %q: use HH:MM on a 24-hour clock, e.g. 06:00", r.ReportTime))
	} else {
		fmt.Sscan(m[1], &s.hour)
		fmt.Sscan(m[2], &s.minute)
	}
	if r.ReportTimezone != "" {
		loc, err := time.LoadLocation(r.ReportTimezone)
		if err != nil {
			errs = append(errs, fmt.Errorf("report-timezone %q is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", r.ReportTimezone))
		}
		s.loc = loc
	}
	return s, errors.Join(errs...)
}

// Validate reports every problem of the schedule at once.
func (r Schedule) Validate() error {
	_, err := r.parse()
	return err
}

// next returns the first scheduled instant strictly after now, in loc.
func (s schedule) next(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	y, m, d := t.Date()
	for i := 0; i <= 7; i++ {
		c := time.Date(y, m, d+i, s.hour, s.minute, 0, 0, loc)
		if c.Weekday() == s.weekday && c.After(now) {
			return c
		}
	}
	return time.Date(y, m, d+7, s.hour, s.minute, 0, 0, loc) // unreachable: one of 8 days matches
}
