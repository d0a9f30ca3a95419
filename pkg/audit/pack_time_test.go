package audit_test

import "time"

func timeAgo() time.Time   { return time.Now().Add(-time.Hour) }
func timeAhead() time.Time { return time.Now().Add(time.Hour) }
