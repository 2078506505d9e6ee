package intake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// IdentityKinds are the identity kinds of the people file, one per source
// and e-mail.
var IdentityKinds = []string{"github", "gitlab", "jira", "linear", "clickup", "toggl", "email"}

// personKind is the identity kind of a contract event's data.person
// (the CloudEvents endpoint): matched against canonical ids and e-mails.
const personKind = "person"

// What the intake does with an identity the people file does not list.
const (
	// UnmappedRefuse: the activity is not produced as an event; the
	// source gets its 2xx (it must not retry forever), the activity is
	// counted and goes to the topic without the person, marked
	// UnmappedAttr, for ingest to refuse as unmapped_identity.
	UnmappedRefuse = "refuse"
	// UnmappedOwnPerson: the identity is pseudonymized as a person of its
	// own (see People.Pseudonym).
	UnmappedOwnPerson = "own_person"
)

// ErrPeopleFile is wrapped by every problem of a people file.
var ErrPeopleFile = errors.New("people file")

// People is a parsed people file: who is who across the tools, and in
// which team each person was on which day. Immutable once parsed.
type People struct {
	// Unmapped is UnmappedRefuse or UnmappedOwnPerson. Default: refuse
	Unmapped string

	byIdentity  map[Identity]*Person
	byCanonical map[string]*Person
}

// Person is one human: one canonical id (whose pseudonym all their
// events carry) and their team memberships.
type Person struct {
	// ID is the canonical id: the identifier other producers send raw
	// for this person (usually the e-mail address), so that the intake's
	// pseudonym and ingest's are the same.
	ID    string
	Teams []Membership
}

// Membership is a stretch of days a person belonged to a team. From and
// To are calendar days of the team (in its time zone), both inclusive,
// held as UTC midnights; a zero From is "since always", a zero To "until
// further notice".
type Membership struct {
	Team     string
	From, To time.Time
}

// TeamOn returns the team the person belonged to at t: the first of their
// memberships whose team's calendar day at t, in the zone loc(team), lies
// within it; "" when none does. A nil loc, or a nil zone, is UTC. Days in
// a team's own zone are how ingest counts the team's events, so an entry
// logged at 20:00 in Los Angeles on a team's last day (03:00 UTC the next
// day) is that team's.
func (p *Person) TeamOn(t time.Time, loc func(team string) *time.Location) string {
	for _, m := range p.Teams {
		zone := time.UTC
		if loc != nil {
			if z := loc(m.Team); z != nil {
				zone = z
			}
		}
		y, mo, d := t.In(zone).Date()
		day := time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
		if (m.From.IsZero() || !day.Before(m.From)) && (m.To.IsZero() || !day.After(m.To)) {
			return m.Team
		}
	}
	return ""
}

// Lookup returns the person an identity belongs to. An identity of kind
// "person" (a contract event's data.person) and one of kind "email" also
// match a canonical id.
func (p *People) Lookup(id Identity) (*Person, bool) {
	if p == nil {
		return nil, false
	}
	v := normalize(id.Value)
	if v == "" {
		return nil, false
	}
	if id.Kind == personKind || id.Kind == "email" {
		if x, ok := p.byCanonical[v]; ok {
			return x, true
		}
		x, ok := p.byIdentity[Identity{"email", v}]
		return x, ok
	}
	x, ok := p.byIdentity[Identity{id.Kind, v}]
	return x, ok
}

// OwnPersonID is the raw id an unmapped identity is pseudonymized as under
// UnmappedOwnPerson: an e-mail or a contract person field as it is (so it
// gets the pseudonym ingest would give it raw), any other kind qualified
// by its kind ("github:octocat"), so that two tools' user ids that happen
// to be equal do not become one person.
func OwnPersonID(id Identity) string {
	if id.Kind == personKind || id.Kind == "email" {
		return id.Value
	}
	return id.Kind + ":" + id.Value
}

func normalize(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// The file's shape (decoded strictly: unknown keys are errors).
type peopleFile struct {
	Unmapped string        `yaml:"unmapped"`
	People   []personEntry `yaml:"people"`
}

type personEntry struct {
	ID         string                `yaml:"id"`
	Identities map[string]stringList `yaml:"identities"`
	Teams      []membershipEntry     `yaml:"teams"`
}

type membershipEntry struct {
	Team string `yaml:"team"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// stringList is a YAML string or list of strings.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// LoadPeople reads and parses the people file at path.
func LoadPeople(path string) (*People, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (pass --people with the file that maps each person's tool identities to one id; docs/sources.md shows one)", ErrPeopleFile, err)
	}
	return ParsePeople(path, b)
}

// ParsePeople parses a people file; name is used in error messages. Every
// problem is reported, each as file:line: what is wrong and what to do.
func ParsePeople(name string, data []byte) (*People, error) {
	var f peopleFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w %s: the file is empty; list people under people: (docs/sources.md)", ErrPeopleFile, name)
		}
		return nil, fmt.Errorf("%w %s: %s (docs/sources.md describes the people file)", ErrPeopleFile, name, yamlErr(err))
	}
	lines := itemLines(data, "people")
	var errs []error
	bad := func(i int, format string, args ...any) {
		at := name
		if i >= 0 && i < len(lines) {
			at = fmt.Sprintf("%s:%d", name, lines[i])
		}
		errs = append(errs, fmt.Errorf("%w %s: %s", ErrPeopleFile, at, fmt.Sprintf(format, args...)))
	}
	p := &People{Unmapped: f.Unmapped, byIdentity: map[Identity]*Person{}, byCanonical: map[string]*Person{}}
	switch p.Unmapped {
	case "":
		p.Unmapped = UnmappedRefuse
	case UnmappedRefuse, UnmappedOwnPerson:
	default:
		bad(-1, "unmapped: %q is not a setting; use refuse (the default: an identity not in this file produces nothing) or own_person (it counts as a person of its own)", f.Unmapped)
	}
	index := map[string]int{}
	for i, e := range f.People {
		id := strings.TrimSpace(e.ID)
		if id == "" {
			bad(i, "people[%d] has no id; give each person a canonical id, the identifier other producers send for them (usually their e-mail address)", i)
			continue
		}
		if first, dup := index[normalize(id)]; dup {
			bad(i, "people[%d] has the id of people[%d]; list each person once, with all their identities", i, first)
			continue
		}
		x := &Person{ID: id}
		p.byCanonical[normalize(id)], index[normalize(id)] = x, i
		for kind, values := range e.Identities {
			if !slices.Contains(IdentityKinds, kind) {
				bad(i, "people[%d].identities: %q is not an identity kind; use %s", i, kind, strings.Join(IdentityKinds, ", "))
				continue
			}
			for _, v := range values {
				k := Identity{kind, normalize(v)}
				if k.Value == "" {
					bad(i, "people[%d].identities.%s has an empty value; remove it", i, kind)
					continue
				}
				if other, dup := p.byIdentity[k]; dup && other != x {
					bad(i, "people[%d].identities.%s: the same %s identity is also another person's; an identity belongs to one person", i, kind, kind)
					continue
				}
				p.byIdentity[k] = x
			}
		}
		for j, m := range e.Teams {
			ms := Membership{Team: strings.TrimSpace(m.Team)}
			if ms.Team == "" {
				bad(i, "people[%d].teams[%d] has no team; give the team id as in the teams file", i, j)
				continue
			}
			var err error
			if ms.From, err = day(m.From); err != nil {
				bad(i, "people[%d].teams[%d].from: %v", i, j, err)
				continue
			}
			if ms.To, err = day(m.To); err != nil {
				bad(i, "people[%d].teams[%d].to: %v", i, j, err)
				continue
			}
			if !ms.From.IsZero() && !ms.To.IsZero() && ms.To.Before(ms.From) {
				bad(i, "people[%d].teams[%d]: to (%s) is before from (%s); to is the last day in the team", i, j, m.To, m.From)
				continue
			}
			for _, o := range x.Teams {
				if overlaps(o, ms) {
					bad(i, "people[%d].teams[%d] overlaps the membership in %s: a person is in one team on any day; end one membership (to) the day before the next begins (from)", i, j, o.Team)
				}
			}
			x.Teams = append(x.Teams, ms)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func overlaps(a, b Membership) bool {
	// a ends before b starts, or b ends before a starts: disjoint.
	if !a.To.IsZero() && !b.From.IsZero() && a.To.Before(b.From) {
		return false
	}
	if !b.To.IsZero() && !a.From.IsZero() && b.To.Before(a.From) {
		return false
	}
	return true
}

func day(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date; write YYYY-MM-DD, e.g. 2024-07-01", s)
	}
	return t, nil
}

// yamlErr shortens yaml.v3's errors ("yaml: line 3: ...") to the
// problems, keeping their line numbers.
func yamlErr(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// itemLines returns the line of each item of the top-level sequence key,
// for error messages.
func itemLines(data []byte, key string) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key && root.Content[i+1].Kind == yaml.SequenceNode {
			var out []int
			for _, it := range root.Content[i+1].Content {
				out = append(out, it.Line)
			}
			return out
		}
	}
	return nil
}
