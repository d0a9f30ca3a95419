package artifacts

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Version is a Kubernetes release version, e.g. v1.24.17.
type Version struct {
	Major, Minor, Patch int
}

// ErrMalformedVersion is returned for a string that is no version.
var ErrMalformedVersion = errors.New("malformed version")

var versionRE = regexp.MustCompile(`^v?(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)

var latestRE = regexp.MustCompile(`^latest-(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)

// ParseVersion parses "v1.24.17" or "1.24.17". Pre-releases are not
// supported.
func ParseVersion(s string) (Version, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, fmt.Errorf("%w %q: want v<major>.<minor>.<patch> (e.g. v1.24.17) or latest-<major>.<minor>", ErrMalformedVersion, s)
	}
	return Version{Major: atoi(m[1]), Minor: atoi(m[2]), Patch: atoi(m[3])}, nil
}

// ParseLatest parses "latest-1.24" and returns the release line (Major,
// Minor) it names; ok is false when s is not of that form.
func ParseLatest(s string) (line Version, ok bool) {
	m := latestRE.FindStringSubmatch(s)
	if m == nil {
		return Version{}, false
	}
	return Version{Major: atoi(m[1]), Minor: atoi(m[2])}, true
}

var lineRE = regexp.MustCompile(`^v?(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$`)

// ParseLine parses a release line, "1.24" or "v1.24", and returns it as
// "1.24"; ok is false when s is not of that form.
func ParseLine(s string) (line string, ok bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return Version{Major: atoi(m[1]), Minor: atoi(m[2])}.Line(), true
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s) // the regexp admits at most four digits
	return n
}

// String returns "v1.24.17".
func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Line returns the release line, "1.24".
func (v Version) Line() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(w Version) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

// Compare returns -1, 0 or +1 as v is older than, equal to or newer than w.
func (v Version) Compare(w Version) int {
	switch {
	case v.Less(w):
		return -1
	case w.Less(v):
		return +1
	}
	return 0
}

// MarshalText encodes v as "v1.24.17", so that versions read naturally in
// JSON.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses "v1.24.17" or "1.24.17".
func (v *Version) UnmarshalText(b []byte) error {
	p, err := ParseVersion(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
