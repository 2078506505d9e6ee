package synth

import (
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones must not depend on the host: same Options, same bytes everywhere
)

// Org is a synthetic organisation: units of teams of people.
type Org struct {
	Name  string
	Units []Unit
	Teams []Team

	locs    map[string]*time.Location
	aliases map[string]string // raw id -> the differently-cased spelling the chat tool sends
}

// Unit is a parent of teams; a team under the minimum group size rolls up
// into its unit.
type Unit struct {
	ID    string
	Teams []string
}

// Team is one team. People holds raw person identifiers (emails or tool
// ids) exactly as the tools send them, before pseudonymization.
type Team struct {
	ID, Unit, TimeZone string
	Size               int
	People             []string
}

// Location returns the time zone of team, or UTC for an unknown team.
func (o *Org) Location(team string) *time.Location {
	if l, ok := o.locs[team]; ok {
		return l
	}
	for _, t := range o.Teams {
		if t.ID == team {
			if l, err := time.LoadLocation(t.TimeZone); err == nil {
				return l
			}
		}
	}
	return time.UTC
}

// RawPeople returns every raw person identifier the organisation's events
// use, sorted: each team member's id and the differently-cased spellings
// some tools send. Tests grep outputs for these.
func (o *Org) RawPeople() []string {
	var out []string
	for _, t := range o.Teams {
		out = append(out, t.People...)
	}
	for _, a := range o.aliases {
		out = append(out, a)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Domain is the e-mail domain of the synthetic organisation.
const Domain = "acme.example"

type unitSpec struct {
	id    string
	zone  string
	teams []string
}

var unitSpecs = []unitSpec{
	{"platform", "Europe/Berlin", []string{"payments", "identity", "infra", "reliability", "build", "observability", "storage", "network"}},
	{"product", "America/New_York", []string{"mobile", "web", "checkout", "search", "onboarding", "notifications", "catalog", "reviews"}},
	{"data", "Asia/Kolkata", []string{"pipelines", "analytics", "ml", "warehouse", "experiments", "quality", "platform", "governance"}},
	{"operations", "America/Sao_Paulo", []string{"support", "logistics", "billing", "compliance", "procurement", "fulfilment", "returns", "vendors"}},
	{"growth", "Asia/Tokyo", []string{"marketing", "seo", "lifecycle", "partnerships", "pricing", "content", "brand", "events"}},
	{"people", "UTC", []string{"recruiting", "learning", "payroll", "workplace", "benefits", "culture", "talent", "it"}},
	{"security", "Europe/London", []string{"secops", "iam", "risk", "cloudsec", "privacy", "audit"}},
	{"finance", "America/Los_Angeles", []string{"accounting", "treasury", "fpa", "tax", "revenue", "controlling"}},
	{"research", "Australia/Sydney", []string{"labs", "prototypes", "ux", "science", "insights", "design"}},
}

var zonePool = []string{
	"Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "America/Sao_Paulo",
	"Asia/Kolkata", "Europe/London", "America/Los_Angeles", "Australia/Sydney",
}

var firstNames = strings.Fields(`maria james aisha wei olga pedro fatima liam noah sofia yuki raj
priya chen amara lucas emma mateo zara ivan hana omar lena diego nina kofi ines tomas mei arjun
sara ahmed elif jonas clara ravi anna felix leila marco ada bruno ngozi hugo irina kenji lara
samir julia oscar tara luca selin dmitri rosa kwame alma paulo yara erik nadia santiago beatriz
haruto ana viktor chloe mohammed freya gabriel lucia`)

var lastNames = strings.Fields(`lopez smith okafor zhang petrova silva haddad murphy kim garcia
tanaka sharma patel chen mensah martin johansson rossi novak dubois nakamura singh costa muller
ibrahim kowalski yilmaz fischer santos oliveira nguyen ali hansen schmidt moreau ferrari
eriksson popescu kaya das reyes ortiz suzuki ito walker brown wilson taylor anderson thomas
moore jackson white harris clark lewis young hall allen wright scott adams baker nelson hill
campbell mitchell roberts carter phillips evans turner torres parker collins edwards stewart`)

const toolIDChars = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// personSet hands out unique raw person identifiers.
type personSet struct {
	r    *rng
	used map[string]bool
}

func (p *personSet) next() string {
	for {
		var id string
		if p.r.chance(0.12) {
			b := []byte("U0")
			for range 7 {
				b = append(b, toolIDChars[p.r.intn(len(toolIDChars))])
			}
			id = string(b)
		} else {
			local := firstNames[p.r.intn(len(firstNames))] + "." + lastNames[p.r.intn(len(lastNames))]
			id = local + "@" + Domain
			for n := 2; p.used[id]; n++ {
				id = local + strconv.Itoa(n) + "@" + Domain
			}
		}
		if !p.used[id] {
			p.used[id] = true
			return id
		}
	}
}

// teamPlan is one team before people are drawn.
type teamPlan struct {
	unit, name string
	size       int
	small      bool // designed to be under k=5
	large      bool
}

// buildOrg draws the organisation. The shape is designed so the privacy
// rules have work to do (see doc.go): with Units >= 4 and enough teams,
//   - the last unit holds exactly one large team and one team of 2..4;
//   - unit 0 and unit 1 each hold exactly one team of 3..4 among several;
//   - unit 2 holds two small teams, which roll up together.
func buildOrg(o Options, r *rng) *Org {
	nu, nt := o.Units, o.Teams
	counts := make([]int, nu)
	pair := nu >= 2 && nt >= 2*nu
	rest, restUnits := nt, nu
	if pair {
		counts[nu-1] = 2
		rest, restUnits = nt-2, nu-1
	}
	for i := range restUnits {
		counts[i] = rest / restUnits
		if i < rest%restUnits {
			counts[i]++
		}
	}

	var plans []teamPlan
	for u := range nu {
		uid := unitID(u)
		spec := unitSpecs[u%len(unitSpecs)]
		for i := range counts[u] {
			name := spec.teams[i%len(spec.teams)]
			if i >= len(spec.teams) {
				name += "-" + strconv.Itoa(i/len(spec.teams)+1)
			}
			p := teamPlan{unit: uid, name: uid + "-" + name}
			n := counts[u]
			switch {
			case pair && u == nu-1:
				p.large, p.small = i == 0, i == 1
			case u == 0 && n >= 3 && nu >= 2, u == 1 && n >= 3:
				p.small = i == n-1
			case u == 2 && n >= 4:
				p.small = i >= n-2
			}
			plans = append(plans, p)
		}
	}

	// Sizes: designed ones first, then the rest within 5..15 summing to the
	// remainder of People.
	fixed := 0
	var free []int
	for i := range plans {
		switch {
		case plans[i].small:
			plans[i].size = r.rangeInt(2, 4)
			if plans[i].unit != unitID(nu-1) || !pair {
				plans[i].size = r.rangeInt(3, 4)
			}
		case plans[i].large:
			plans[i].size = r.rangeInt(12, 15)
		default:
			free = append(free, i)
			continue
		}
		fixed += plans[i].size
	}
	if len(free) > 0 {
		lo := 5 // the other teams are at least k, unless People leaves no room
		if o.People-fixed < lo*len(free) {
			lo = 2
		}
		target := min(max(o.People-fixed, lo*len(free)), 15*len(free))
		avg := float64(target) / float64(len(free))
		sum := 0
		for _, i := range free {
			s := int(avg + 2.5*r.norm() + 0.5)
			plans[i].size = min(max(s, lo), 15)
			sum += plans[i].size
		}
		for sum != target {
			i := free[r.intn(len(free))]
			switch {
			case sum < target && plans[i].size < 15:
				plans[i].size++
				sum++
			case sum > target && plans[i].size > lo:
				plans[i].size--
				sum--
			}
		}
	}

	org := &Org{Name: "Acme", locs: make(map[string]*time.Location), aliases: make(map[string]string)}
	ps := &personSet{r: r, used: make(map[string]bool)}
	unitIdx := make(map[string]int)
	for u := range nu {
		unitIdx[unitID(u)] = u
		org.Units = append(org.Units, Unit{ID: unitID(u)})
	}
	for i, p := range plans {
		u := unitIdx[p.unit]
		zone := unitSpecs[u%len(unitSpecs)].zone
		if r.chance(0.3) || i%7 == 3 {
			zone = zonePool[r.intn(len(zonePool))]
		}
		t := Team{ID: p.name, Unit: p.unit, TimeZone: zone, Size: p.size}
		for range p.size {
			id := ps.next()
			t.People = append(t.People, id)
			if strings.Contains(id, "@") && r.chance(0.1) {
				org.aliases[id] = titleCase(id)
			}
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			panic("synth: time zone " + zone + ": " + err.Error()) // embedded tzdata has every zone in the pool
		}
		org.locs[t.ID] = loc
		org.Teams = append(org.Teams, t)
		org.Units[u].Teams = append(org.Units[u].Teams, t.ID)
	}
	return org
}

func unitID(u int) string {
	id := unitSpecs[u%len(unitSpecs)].id
	if u >= len(unitSpecs) {
		id += strconv.Itoa(u/len(unitSpecs) + 1)
	}
	return id
}

// titleCase spells an e-mail the way some chat tools display it:
// "maria.lopez@acme.example" -> "Maria.Lopez@acme.example". It is the same
// person once trimmed and lower-cased.
func titleCase(email string) string {
	at := strings.IndexByte(email, '@')
	b := []byte(email)
	up := true
	for i := range at {
		if up && b[i] >= 'a' && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
		up = b[i] == '.'
	}
	return string(b)
}
