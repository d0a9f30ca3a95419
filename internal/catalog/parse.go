// Package catalog generates the release catalog files embedded in
// k8sverify (pkg/artifacts/catalog/v1.X.json) from the public documents
// that publish their facts: a line's CHANGELOG (kubernetes/kubernetes
// CHANGELOG/CHANGELOG-1.X.md: the tarballs' SHA-512 and the images of
// every release), the image promoter's manifest (kubernetes/k8s.io
// registry.k8s.io/images/k8s-staging-kubernetes/images.yaml: the digest
// of every release tag) and the release dates (endoflife-date/release-data
// releases/kubernetes.json). It is a maintainer's tool: the layout of a
// line, its sources, signing history and incidents stay hand-curated in
// the base file the generator starts from.
package catalog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"

	"github.com/k8sverify/k8sverify/pkg/artifacts"
)

// ChangelogRelease is what a CHANGELOG publishes of one release.
type ChangelogRelease = artifacts.ChangelogRelease

// ParseChangelog reads a CHANGELOG-1.X.md (artifacts.ParseChangelog).
func ParseChangelog(r io.Reader) (map[artifacts.Version]*ChangelogRelease, error) {
	return artifacts.ParseChangelog(r)
}

// ParsePromoterManifest reads the promoter's images.yaml
// (artifacts.ParsePromoterManifest).
func ParsePromoterManifest(r io.Reader) (map[string]map[string]string, error) {
	return artifacts.ParsePromoterManifest(r)
}

// ParseReleaseDates reads endoflife-date/release-data's
// releases/kubernetes.json, in either of its forms ({"versions": {"1.24.17":
// {"date": "2023-08-23"}}} or the older {"1.24.17": "2023-08-23"}), and
// returns the date of every stable release.
func ParseReleaseDates(r io.Reader) (map[artifacts.Version]string, error) {
	var doc map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("release dates: %w", err)
	}
	entries := doc
	if raw, ok := doc["versions"]; ok {
		var versions map[string]struct {
			Date string `json:"date"`
		}
		if err := json.Unmarshal(raw, &versions); err != nil {
			return nil, fmt.Errorf("release dates: versions: %w", err)
		}
		out := map[artifacts.Version]string{}
		for s, e := range versions {
			if err := addDate(out, s, e.Date); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	out := map[artifacts.Version]string{}
	for s, raw := range entries {
		var date string
		if err := json.Unmarshal(raw, &date); err != nil {
			continue // not a release entry
		}
		if err := addDate(out, s, date); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func addDate(out map[artifacts.Version]string, s, date string) error {
	v, err := artifacts.ParseVersion(s)
	if err != nil {
		return nil // a pre-release or another name
	}
	if !dateRE.MatchString(date) {
		return fmt.Errorf("release dates: %s: date %q", s, date)
	}
	out[v] = date
	return nil
}

var (
	scheduleReleaseRE = regexp.MustCompile(`^\s*(?:- )?release: "?(\d+\.\d+\.\d+)"?\s*$`)
	scheduleLineRE    = regexp.MustCompile(`^\s*(?:- )?release: "?(\d+\.\d+)"?\s*$`)
	scheduleTargetRE  = regexp.MustCompile(`^\s*targetDate: "?(\d{4}-\d{2}-\d{2})"?\s*$`)
)

// ParseSchedule reads kubernetes/website's data/releases/schedule.yaml and
// returns the target date of every patch release it lists (a line's
// "next" patch and its "previousPatches"). Target dates are plans: a
// release that slipped (v1.24.11, planned 2023-02-15, published
// 2023-03-01) shows the plan, so the generator uses them to cross-check
// the release dates, not to replace them.
func ParseSchedule(r io.Reader) (map[artifacts.Version]string, error) {
	out := map[artifacts.Version]string{}
	var pending *artifacts.Version
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case scheduleReleaseRE.MatchString(line):
			v, err := artifacts.ParseVersion(scheduleReleaseRE.FindStringSubmatch(line)[1])
			if err != nil {
				return nil, fmt.Errorf("schedule line %d: %w", n, err)
			}
			pending = &v
		case scheduleLineRE.MatchString(line):
			pending = nil
		case scheduleTargetRE.MatchString(line) && pending != nil:
			date := scheduleTargetRE.FindStringSubmatch(line)[1]
			if old, ok := out[*pending]; ok && old != date {
				return nil, fmt.Errorf("schedule line %d: %s has two target dates", n, pending)
			}
			out[*pending] = date
			pending = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read the schedule: %w", err)
	}
	return out, nil
}
