package audit

// HashFile is hashFileSHA256, for the benchmark of hashing large files.
var HashFile = hashFileSHA256

// Limit is how many of work artifacts a verification checks at once.
func (s *Session) Limit(work int) int { return s.limit(work) }
