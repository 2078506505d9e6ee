package privacy

import "strings"

// surveillanceTerms are the words that mark monitoring data. A field or
// event type whose name contains one of them (as a whole word of the name,
// split on '.', '_', '-' and camelCase) is refused as surveillance.
var surveillanceTerms = map[string]bool{
	"keystroke": true, "keystrokes": true, "keypress": true, "keypresses": true, "keylog": true, "keylogger": true, "typing": true,
	"mouse": true, "click": true, "clicks": true, "cursor": true, "scroll": true,
	"screenshot": true, "screenshots": true, "screen": true, "screencast": true, "webcam": true, "camera": true, "microphone": true,
	"window": true, "url": true, "urls": true, "browser": true, "website": true,
	"app": true, "apps": true, "application": true, "applications": true,
	"idle": true, "afk": true, "activity": true, "presence": true,
	"location": true, "gps": true, "geo": true, "latitude": true, "longitude": true, "ip": true,
}

// surveillanceCompounds are multi-word names refused as a whole even where a
// single word alone would be fine.
var surveillanceCompounds = []string{"window_title", "activity_level", "active_window", "app_usage", "screen_time"}

// IsSurveillanceName reports whether a field or event-type name describes
// monitoring data (keystrokes, mouse, screenshots, window titles, URLs,
// app usage, idle time, location, ...), and if so which term matched.
func IsSurveillanceName(name string) (term string, ok bool) {
	words := splitWords(name)
	joined := strings.Join(words, "_")
	for _, c := range surveillanceCompounds {
		if strings.Contains(joined, c) {
			return c, true
		}
	}
	for _, w := range words {
		if surveillanceTerms[w] {
			return w, true
		}
	}
	return "", false
}

// splitWords lower-cases name and splits it on '.', '_', '-', ' ', '/'
// and camelCase boundaries.
func splitWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prevLower := false
	for _, r := range name {
		switch {
		case r == '.' || r == '_' || r == '-' || r == ' ' || r == '/' || r == ':':
			flush()
			prevLower = false
		case r >= 'A' && r <= 'Z':
			if prevLower {
				flush()
			}
			cur = append(cur, r)
			prevLower = false
		default:
			cur = append(cur, r)
			prevLower = r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		}
	}
	flush()
	return words
}
