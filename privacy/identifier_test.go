package privacy

import "testing"

func TestPersonIdentifierIn(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" means: not an identifier
	}{
		// E-mail addresses, wherever they hide.
		{"team named like a person", "dave.smith@acme.example", IdentifierEmail},
		{"e-mail inside a task id", "ORCA-dave.smith@acme.example-101", IdentifierEmail},
		{"e-mail as a path segment", "jira/acme/dave@acme.example", IdentifierEmail},
		{"mailto URI", "mailto:dave@acme.example", IdentifierEmail},
		{"URL userinfo", "https://dave@github.com/acme/orca", IdentifierEmail},
		{"URL userinfo with password", "https://dave:secret@jira.acme.example", IdentifierEmail},
		{"e-mail in a URL path", "https://jira.acme.example/people/dave.smith@acme.example", IdentifierEmail},
		{"e-mail in a query", "https://x.example/hook?user=dave@acme.example", IdentifierEmail},
		{"percent-encoded at sign", "https://x.example/people/dave%40acme.example", IdentifierEmail},
		{"full-width at sign", "dave＠acme.example", IdentifierEmail},
		{"internal address without a dot", "dave@acme", IdentifierEmail},
		{"scp-style git remote", "git@github.com:acme/orca.git", IdentifierEmail},
		{"urn with an address", "urn:person:dave@acme.example", IdentifierEmail},
		{"plus-addressed", "dave+jira@acme.example", IdentifierEmail},
		{"non-ASCII local part", "zoë@acme.example", IdentifierEmail},
		// Handles.
		{"bare handle", "@dave", IdentifierHandle},
		{"handle in text", "review for @dave_s", IdentifierHandle},
		{"handle in parentheses", "PR-7 (@dave)", IdentifierHandle},
		{"handle after a colon", "slack:@dave", IdentifierHandle},
		// Phone numbers.
		{"international", "+1 415 555 0100", IdentifierPhone},
		{"international compact", "+4915112345678", IdentifierPhone},
		{"international with area code in parentheses", "+1 (415) 555-0100", IdentifierPhone},
		{"international in an id", "call-+44-20-7946-0958", IdentifierPhone},
		{"percent-encoded plus", "whatsapp/%2B4915112345678", IdentifierPhone},
		{"tel URI", "tel:0151-12345678", IdentifierPhone},
		{"sms URI", "SMS:+4915112345678", IdentifierPhone},
		{"area code in parentheses", "(415) 555-0100", IdentifierPhone},
		{"NANP dashes", "415-555-0100", IdentifierPhone},
		{"NANP dots", "call 415.555.0100", IdentifierPhone},
		{"national with leading zero", "0151 12345678", IdentifierPhone},
		{"national with a slash", "030/1234567", IdentifierPhone},
		{"UK mobile", "07700 900123", IdentifierPhone},

		// Ids that must stay ids.
		{"Jira key", "PROJ-123", ""},
		{"Jira key with a long number", "ORCA-4155550100", ""},
		{"issue number", "#123", ""},
		{"numeric id", "100001", ""},
		{"long numeric id", "12345678901234567890", ""},
		{"zero-padded id", "000123456789", ""},
		{"UUID", "8c7f3a52-0d64-4b8e-9a37-2f1f7c1b9e10", ""},
		{"UUID all digits", "12345678-1234-1234-1234-123456789012", ""},
		{"object id", "66000000000065f0a1001eef", ""},
		{"Slack event id", "Ev0ABC123XYZ", ""},
		{"Slack timestamp request", "C07ABCD/1712345678.100001", ""},
		{"GitHub pull request", "acme/orca/pull/77", ""},
		{"https source", "https://github.com/acme/orca", ""},
		{"https source with port and path", "https://jira.acme.example:8443/rest/api/2/issue/ORCA-101", ""},
		{"relative source", "jira/acme", ""},
		{"urn source", "urn:uuid:8c7f3a52-0d64-4b8e-9a37-2f1f7c1b9e10", ""},
		{"ISO date in an id", "standup-2024-05-01", ""},
		{"European date", "01.05.2024", ""},
		{"version after an at sign", "lib@1.2.3", ""},
		{"v-version after an at sign", "pkg@v2.0", ""},
		{"lone at sign", "meet @ noon", ""},
		{"trailing at sign", "team@", ""},
		{"C++ team", "c++", ""},
		{"plus votes", "+1", ""},
		{"percent that is not an escape", "100%-done", ""},
		{"parenthesized short number", "fix (123) bug", ""},
		{"team id", "team-orca", ""},
		{"unicode team", "équipe-海", ""},
		{"time with offset", "2024-05-01T11:30:00+02:00", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := PersonIdentifierIn(tt.in)
			if got != tt.want || found != (tt.want != "") {
				t.Errorf("PersonIdentifierIn(%q) = %q, %v; want %q", tt.in, got, found, tt.want)
			}
			if b, _ := PersonIdentifierIn([]byte(tt.in)); b != got {
				t.Errorf("PersonIdentifierIn of the bytes = %q, of the string %q", b, got)
			}
		})
	}
}

func TestPersonIdentifierInDoesNotAllocate(t *testing.T) {
	b := []byte("https://jira.acme.example/rest/api/2/issue/ORCA-101")
	if n := testing.AllocsPerRun(100, func() { PersonIdentifierIn(b) }); n != 0 {
		t.Errorf("PersonIdentifierIn of ASCII bytes allocates %v times, want 0", n)
	}
}
