package artifacts

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// Name says where the catalog came from: "embedded catalog", or "catalog"
// and the file's name.
func (c *Catalog) Name() string { return c.name }

// SHA256 is the hex SHA-256 of the catalog: of its file, or of the
// embedded catalog's files in order.
func (c *Catalog) SHA256() string { return c.sha256 }

// IsEmbedded reports whether c is the catalog built into k8sverify.
func (c *Catalog) IsEmbedded() bool { return c == Embedded() }

// Changes says what c changes of base (the embedded catalog, say), one
// entry per change, in version order: releases added, releases dropped,
// and for each release of both the fields that differ — "identities" (of
// the incidents that concern it, which an accepted incident accepts as
// signers), "dates", "signing" (whether signatures are expected), "sums"
// (the CHANGELOG's), "digests" (the promoter's), "incidents" — and, per
// line, "artifacts" when the files, images or platforms differ. Nothing
// changed: none.
func (c *Catalog) Changes(base *Catalog) []string {
	var changes, added, dropped, linesAdded, linesDropped []string
	nAdded, nDropped := 0, 0
	for _, f := range c.lines {
		bf := base.line(f.Line)
		if bf == nil {
			linesAdded = append(linesAdded, f.Line)
			nAdded += len(f.Releases)
			continue
		}
		if !sameJSON(f.Files, bf.Files) || !sameJSON(f.Images, bf.Images) || !sameJSON(f.Platforms, bf.Platforms) {
			changes = append(changes, "line "+f.Line+": artifacts")
		}
		var run []Version // releases in a row with the same changes
		var runFields string
		flush := func() {
			if len(run) == 1 {
				changes = append(changes, run[0].String()+": "+runFields)
			} else if len(run) > 1 {
				changes = append(changes, fmt.Sprintf("%s … %s: %s", run[0], run[len(run)-1], runFields))
			}
			run = nil
		}
		for _, r := range sortedReleases(f) {
			br := bf.release(r.Version)
			if br == nil {
				added = append(added, r.Version.String())
				continue
			}
			fields := strings.Join(releaseChanges(f, r, bf, br), ", ")
			if fields != runFields {
				flush()
				runFields = fields
			}
			if fields != "" {
				run = append(run, r.Version)
			}
		}
		flush()
	}
	for _, bf := range base.lines {
		f := c.line(bf.Line)
		if f == nil {
			linesDropped = append(linesDropped, bf.Line)
			nDropped += len(bf.Releases)
			continue
		}
		for _, r := range bf.Releases {
			if f.release(r.Version) == nil {
				dropped = append(dropped, r.Version.String())
			}
		}
	}
	var out []string
	// Whole lines are named as lines: a catalog of one line against the
	// embedded one drops the others, and listing each release says less.
	if len(linesAdded) > 0 {
		out = append(out, fmt.Sprintf("lines added: %s (%d releases)", strings.Join(linesAdded, ", "), nAdded))
	}
	if len(linesDropped) > 0 {
		out = append(out, fmt.Sprintf("lines dropped: %s (%d releases)", strings.Join(linesDropped, ", "), nDropped))
	}
	if len(added) > 0 {
		out = append(out, "releases added: "+strings.Join(added, ", "))
	}
	if len(dropped) > 0 {
		out = append(out, "releases dropped: "+strings.Join(dropped, ", "))
	}
	return append(out, changes...)
}

// releaseChanges names the fields of release r (of line f) that differ
// from br (of line bf).
func releaseChanges(f *catalogFile, r *catalogRelease, bf *catalogFile, br *catalogRelease) []string {
	var fields []string
	ins, bins := f.incidentsFor(r.Version), bf.incidentsFor(br.Version)
	if !slices.EqualFunc(identitiesOf(ins), identitiesOf(bins), func(a, b Identity) bool { return a == b }) {
		fields = append(fields, "identities")
	}
	prev, bprev := f.previous(r.Version), bf.previous(br.Version)
	if r.Date != br.Date || r.DateStatus != br.DateStatus || !reflect.DeepEqual(prev, bprev) {
		fields = append(fields, "dates")
	}
	if r.ImageSigning != br.ImageSigning || r.BlobSigning != br.BlobSigning {
		fields = append(fields, "signing")
	}
	if !maps.Equal(r.SHA512, br.SHA512) {
		fields = append(fields, "sums")
	}
	if !maps.Equal(r.ImageDigests, br.ImageDigests) {
		fields = append(fields, "digests")
	}
	if !sameJSON(ins, bins) {
		fields = append(fields, "incidents")
	}
	return fields
}

func sortedReleases(f *catalogFile) []*catalogRelease {
	var rs []*catalogRelease
	for i := range f.Releases {
		rs = append(rs, &f.Releases[i])
	}
	slices.SortFunc(rs, func(a, b *catalogRelease) int { return a.Version.Compare(b.Version) })
	return rs
}

func identitiesOf(ins []Incident) []Identity {
	var ids []Identity
	for _, in := range ins {
		ids = append(ids, in.Identities...)
	}
	slices.SortFunc(ids, func(a, b Identity) int { return strings.Compare(a.SAN+"\n"+a.Issuer, b.SAN+"\n"+b.Issuer) })
	return slices.Compact(ids)
}

func sameJSON(a, b any) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}

func (c *Catalog) line(line string) *catalogFile {
	for _, f := range c.lines {
		if f.Line == line {
			return f
		}
	}
	return nil
}

func (f *catalogFile) release(v Version) *catalogRelease {
	for i := range f.Releases {
		if f.Releases[i].Version == v {
			return &f.Releases[i]
		}
	}
	return nil
}
