package ratelimit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseRules parses "name=limit/period" items separated by commas, e.g.
// "/:chat=10/30s,/:join_room=5/1m,http:GET /chats=60/1m". The period is a Go
// duration; a bare unit means one of it ("10/s", "100/m", "1000/h"). A limit of 0
// means unlimited (to switch a default off). The name is everything before the
// last '=', so names may hold ':', '/' and spaces but not ',' or '='. Errors
// name the bad item; duplicates are errors.
func ParseRules(s string) (map[string]Rule, error) {
	rules := make(map[string]Rule)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, '=')
		if i < 0 {
			return nil, fmt.Errorf("ratelimit: rule %q: want name=limit/period", item)
		}
		name, spec := strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		if name == "" {
			return nil, fmt.Errorf("ratelimit: rule %q: empty name", item)
		}
		limStr, perStr, ok := strings.Cut(spec, "/")
		if !ok {
			return nil, fmt.Errorf("ratelimit: rule %q: want limit/period", item)
		}
		limit, err := strconv.ParseInt(strings.TrimSpace(limStr), 10, 64)
		if err != nil || limit < 0 {
			return nil, fmt.Errorf("ratelimit: rule %q: limit %q is not a non-negative integer", item, limStr)
		}
		perStr = strings.TrimSpace(perStr)
		if perStr != "" && (perStr[0] < '0' || perStr[0] > '9') && perStr[0] != '.' {
			perStr = "1" + perStr
		}
		period, err := time.ParseDuration(perStr)
		if err != nil || period <= 0 {
			return nil, fmt.Errorf("ratelimit: rule %q: period %q is not a positive duration", item, perStr)
		}
		if _, dup := rules[name]; dup {
			return nil, fmt.Errorf("ratelimit: rule %q: duplicate name %q", item, name)
		}
		rules[name] = Rule{Limit: limit, Period: period}
	}
	return rules, nil
}
